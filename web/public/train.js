// Follows a training run: every server-sent event is a batch point (running loss of the epoch so far) or an
// epoch summary (train/test loss, test accuracy); the charts are redrawn at most once per animation frame.
"use strict";

let run = null, points = new Map(), epochs = [], redraw = false, received = 0;
const width = () => Math.min(900, document.body.clientWidth - 60);

const lossChart = new uPlot({
  width: width(), height: 300, scales: {x: {time: false}},
  axes: [{label: "epoch"}, {label: "loss"}],
  series: [{label: "epoch", value: (u, v) => v == null ? "" : v.toFixed(2)},
           {label: "train loss (running, per batch)", stroke: "#1f77b4", width: 2, spanGaps: true, points: {show: false}},
           {label: "test loss (per epoch)", stroke: "#d62728", width: 2, dash: [6, 4], spanGaps: true, points: {show: true, size: 7}}],
}, [[], [], []], document.getElementById("loss-chart"));

const accuracyChart = new uPlot({
  width: width(), height: 240, scales: {x: {time: false}, y: {range: (u, lo, hi) => [Math.max(0, Math.floor(lo * 10) / 10), 1]}},
  axes: [{label: "epoch"}, {label: "accuracy", values: (u, vs) => vs.map((v) => (100 * v).toFixed(0) + "%")}],
  series: [{label: "epoch"},
           {label: "test accuracy", stroke: "#2ca02c", width: 2, points: {show: true, size: 7},
            value: (u, v) => v == null ? "" : (100 * v).toFixed(2) + "%"}],
}, [[], []], document.getElementById("accuracy-chart"));

function reset() { points = new Map(); epochs = []; received = 0; }

function take(e) {
  received++;
  if (e.type === "batch") {
    const p = points.get(e.x) || {};
    p.loss = e.running_loss;
    points.set(e.x, p);
    status(`epoch ${e.epoch}/${run ? run.epochs : "?"}: batch ${e.batch}/${e.batches}, running loss ${e.running_loss.toFixed(4)}, ${Math.round(e.images_per_second)} images/s`);
  } else if (e.type === "epoch") {
    const p = points.get(e.epoch) || {};
    p.test_loss = e.test_loss;
    points.set(e.epoch, p);
    epochs.push(e);
    const row = document.createElement("tr");
    row.innerHTML = [e.epoch, e.train_loss.toFixed(4), e.test_loss.toFixed(4), (100 * e.test_accuracy).toFixed(2) + "%",
                     e.seconds.toFixed(1), Math.round(e.images_per_second)].map((v) => `<td>${v}</td>`).join("");
    document.querySelector("#epochs tbody").appendChild(row);
  } else if (e.type === "done") {
    status(`finished: ${e.outcome}`);
    document.body.dataset.done = "1";
  }
  document.body.dataset.events = String(received);
  if (!redraw) { redraw = true; requestAnimationFrame(draw); }
}

function draw() {
  redraw = false;
  const xs = [...points.keys()].sort((a, b) => a - b);
  lossChart.setData([xs, xs.map((x) => points.get(x).loss ?? null), xs.map((x) => points.get(x).test_loss ?? null)]);
  accuracyChart.setData([epochs.map((e) => e.epoch), epochs.map((e) => e.test_accuracy)]);
}

function status(text) { document.getElementById("status").textContent = text; }

// `cnn serve` has no training run: it answers /api/training with 404 and says so, which the page shows instead of
// a connection that never was.
async function follow() {
  let answer;
  try {
    answer = await fetch("/api/training");
  } catch (e) {
    status("connection lost; the run may have ended");
    return;
  }
  if (answer.status === 404) {
    const body = await answer.json().catch(() => ({}));
    status(body.error || "no training run here");
    document.body.dataset.noTraining = "1";
    return;
  }
  listen();
}

function listen() {
  const source = new EventSource("/api/training/events");
  source.addEventListener("run", (m) => {
    // Each (re)connection replays the whole run, so start from scratch.
    run = JSON.parse(m.data);
    reset();
    document.querySelector("#epochs tbody").innerHTML = "";
    document.getElementById("run-name").textContent = `— ${run.net} on ${run.data}, ${run.epochs} epochs`;
  });
  source.onmessage = (m) => take(JSON.parse(m.data));
  source.onerror = () => {
    if (document.body.dataset.done) source.close();
    else status("connection lost; the run may have ended");
  };
}

follow();
