// The page: for a grey model, turns strokes on the pad into the model's input (H×W values in 0..1, light on dark
// like the data sets) and asks POST /api/predict while you draw (one request in flight, the latest drawing next);
// for a colour model, sends a dropped or chosen photo to POST /api/predict/image, where the server fits it as
// `cnn predict` does. Either way, a click on a test image of the strip (GET /api/samples) asks for that sample.
// Shows the classes, what the network saw, every layer's feature maps and, once, the kernels (GET /api/kernels).
"use strict";

const pad = document.getElementById("pad");
const padCtx = pad.getContext("2d");
const seen = document.getElementById("seen");
let model = null;            // GET /api/model
let inFlight = false, dirty = false, predictions = 0;

function clearPad() {
  padCtx.fillStyle = "black";
  padCtx.fillRect(0, 0, pad.width, pad.height);
}

// ---- drawing ------------------------------------------------------------------------------------------------
let last = null;
function point(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}
pad.addEventListener("pointerdown", (e) => { pad.setPointerCapture(e.pointerId); last = point(e); stroke(last); });
pad.addEventListener("pointermove", (e) => { if (last) stroke(point(e)); });
for (const ev of ["pointerup", "pointercancel", "pointerleave"]) pad.addEventListener(ev, () => { last = null; });

function stroke(p) {
  padCtx.strokeStyle = "white";
  padCtx.lineWidth = pad.width / 14;
  padCtx.lineCap = "round";
  padCtx.lineJoin = "round";
  padCtx.beginPath();
  padCtx.moveTo(last[0], last[1]);
  padCtx.lineTo(p[0], p[1]);
  padCtx.stroke();
  last = p;
  requestPrediction();
}

document.getElementById("clear").addEventListener("click", () => {
  clearPad();
  document.getElementById("classes").innerHTML = '<li class="muted">draw something…</li>';
  document.getElementById("maps").innerHTML = "";
  showTruth(null);
  seen.getContext("2d").clearRect(0, 0, seen.width, seen.height);
});
document.getElementById("center").addEventListener("change", requestPrediction);

// ---- the model's input ----------------------------------------------------------------------------------------
// MNIST's digits sit, scaled to fit 20×20, in the middle of 28×28; doing the same to a drawing makes the model see
// what it was trained on, wherever on the pad and however big the user drew.
function inputImage() {
  const [, H, W] = model.input;
  const small = document.createElement("canvas");
  small.width = W; small.height = H;
  const ctx = small.getContext("2d");
  ctx.fillStyle = "black";
  ctx.fillRect(0, 0, W, H);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  let box = [0, 0, pad.width, pad.height];
  if (document.getElementById("center").checked) {
    const b = inkBox();
    if (b) {
      const side = Math.max(b[2] - b[0], b[3] - b[1]);
      const cx = (b[0] + b[2]) / 2, cy = (b[1] + b[3]) / 2, full = side * 28 / 20;
      box = [cx - full / 2, cy - full / 2, full, full];
    }
  }
  ctx.drawImage(pad, box[0], box[1], box[2], box[3], 0, 0, W, H);
  const px = ctx.getImageData(0, 0, W, H).data;
  const image = new Array(H * W);
  for (let i = 0; i < H * W; i++) image[i] = Math.round(px[4 * i] / 255 * 1000) / 1000;
  const sctx = seen.getContext("2d");
  sctx.imageSmoothingEnabled = false;
  sctx.drawImage(small, 0, 0, seen.width, seen.height);
  return image;
}

function inkBox() {  // [x0, y0, x1, y1] of the drawn pixels, or null
  const d = padCtx.getImageData(0, 0, pad.width, pad.height).data;
  let x0 = pad.width, y0 = pad.height, x1 = -1, y1 = -1;
  for (let y = 0; y < pad.height; y++)
    for (let x = 0; x < pad.width; x++)
      if (d[4 * (y * pad.width + x)] > 40) {
        if (x < x0) x0 = x; if (x > x1) x1 = x;
        if (y < y0) y0 = y; if (y > y1) y1 = y;
      }
  return x1 < 0 ? null : [x0, y0, x1 + 1, y1 + 1];
}

// ---- talking to the server -------------------------------------------------------------------------------------
function requestPrediction() {
  if (!model) return;
  if (inFlight) { dirty = true; return; }
  inFlight = true;
  dirty = false;
  showTruth(null);
  ask("/api/predict", JSON.stringify({image: inputImage()}), "application/json")
    .finally(() => { inFlight = false; if (dirty) requestPrediction(); });
}

// POSTs `body`, then shows the answer (or its one-line error in place of the classes).
function ask(url, body, type) {
  return fetch(url, {method: "POST", headers: {"Content-Type": type}, body})
    .then((r) => r.json().then((answer) => {
      if (!r.ok) throw new Error(answer.error || r.statusText);
      showPrediction(answer);
    }))
    .catch((err) => {
      const li = document.createElement("li");
      li.className = "error";
      li.textContent = err.message;
      document.getElementById("classes").replaceChildren(li);
      document.getElementById("maps").innerHTML = "";
      document.body.dataset.errors = String(Number(document.body.dataset.errors || 0) + 1);
    });
}

// ---- a colour model: a photo -------------------------------------------------------------------------------------
const drop = document.getElementById("drop");
const photoFile = document.getElementById("photo-file");
const preview = document.getElementById("photo-preview");
function sendPhoto(file) {
  if (!file) return;
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  preview.onload = () => {
    document.getElementById("fit-info").textContent =
      `${file.name}: ${preview.naturalWidth}×${preview.naturalHeight}, fitted to ` +
      `${model.input[2]}×${model.input[1]} on the server (${model.fit}), as cnn predict does`;
  };
  document.getElementById("drop-text").hidden = true;
  markStrip(-1);
  showTruth(null);
  ask("/api/predict/image", file, file.type || "application/octet-stream");
}
photoFile.addEventListener("change", () => { sendPhoto(photoFile.files[0]); photoFile.value = ""; });
for (const ev of ["dragenter", "dragover"])
  drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); sendPhoto(e.dataTransfer.files[0]); });

// ---- the strip of test images ------------------------------------------------------------------------------------
let samples = null;  // GET /api/samples
function showStrip(s) {
  samples = s;
  if (!s.count) return;
  const [c, h, w] = s.shape;
  document.getElementById("strip-source").textContent =
    `— ${s.count} from ${s.source.split("/").pop()}; click one to classify it`;
  const strip = document.getElementById("strip");
  const cell = Math.max(1, Math.ceil(48 / Math.max(h, w)));  // drawn crisp, then shown at 48 px by the style
  for (const x of s.samples) {
    const canvas = c === 3 ? rgbCanvas(x.pixels, 0, h, w, cell, 255) : greyCanvas(x.pixels, h, w, cell);
    canvas.title = `test image ${x.test_index}: ${x.name}`;
    canvas.dataset.sample = String(x.index);
    canvas.addEventListener("click", () => {
      markStrip(x.index);
      preview.hidden = true;  // the photo is no longer what the network sees
      document.getElementById("drop-text").hidden = false;
      document.getElementById("fit-info").textContent = "";
      ask("/api/predict", JSON.stringify({sample: x.index}), "application/json");
    });
    strip.appendChild(canvas);
  }
  document.getElementById("strip-panel").hidden = false;
}
function greyCanvas(bytes, h, w, cell) {
  const rgb = [].concat(bytes, bytes, bytes);
  return rgbCanvas(rgb, 0, h, w, cell, 255);
}
function markStrip(index) {
  for (const el of document.querySelectorAll("#strip canvas"))
    el.classList.toggle("picked", Number(el.dataset.sample) === index);
}

function showTruth(sample) {
  const p = document.getElementById("truth");
  p.hidden = !sample;
  if (!sample) return;
  p.className = sample.correct ? "truth right" : "truth wrong";
  p.textContent = `test image ${sample.test_index} — true label: ${sample.name} ` +
                  (sample.correct ? "✓ predicted correctly" : `✗ predicted ${sample.predicted_name}`);
}

// What the network was given: the answer's own input, so a photo shows as the server fitted it.
function showSeen(input) {
  const [c, h, w] = input.shape.slice(-3);
  const ctx = seen.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, seen.width, seen.height);
  const picture = c === 3 ? rgbCanvas(input.data, 0, h, w, 1) : greyCanvas(input.data.map((v) => 255 * v), h, w, 1);
  ctx.drawImage(picture, 0, 0, seen.width, seen.height);
}

function showPrediction(p) {
  const ol = document.getElementById("classes");
  ol.innerHTML = "";
  for (const c of p.classes.slice(0, 5)) {
    const li = document.createElement("li");
    const pct = (100 * c.probability).toFixed(1);
    li.innerHTML = `<span class="name"></span><span class="bar"><span style="width:${pct}%"></span></span><span class="pct">${pct}%</span>`;
    li.querySelector(".name").textContent = c.name;
    if (p.sample && c.index === p.sample.label) li.classList.add("is-truth");
    ol.appendChild(li);
  }
  if (p.sample) p.sample.predicted_name = p.classes[0].name;
  showTruth(p.sample || null);
  if (p.input && (p.sample || p.fit)) showSeen(p.input);
  showMaps(p.maps || []);
  document.body.dataset.predictions = String(++predictions);
}

function showMaps(maps) {
  const root = document.getElementById("maps");
  root.innerHTML = "";
  for (const m of maps) {
    const [c, h, w] = m.shape;
    const scale = Math.max(Math.abs(m.min), Math.abs(m.max)) || 1;
    const block = document.createElement("div");
    block.className = "layer";
    const layer = model.layers[m.layer];
    block.innerHTML = `<div class="layer-title">layer ${m.layer}: ${layer ? layer.summary : m.kind} <span class="muted">${c}×${h}×${w}, ${fmt(m.min)} … ${fmt(m.max)}</span></div>`;
    const tiles = document.createElement("div");
    tiles.className = "tiles";
    if (h === 1 && w === 1) {  // a vector of units: one strip, labelled with class names on the last layer
      const cols = Math.min(c, 32), rows = Math.ceil(c / cols);
      const padded = m.data.concat(new Array(rows * cols - c).fill(0));
      tiles.appendChild(valuesCanvas(padded, 0, rows, cols, scale, 14, `${c} units`));
    } else {
      const cell = Math.max(1, Math.floor(56 / Math.max(h, w)));
      for (let k = 0; k < c; k++) tiles.appendChild(valuesCanvas(m.data, k * h * w, h, w, scale, cell, `map ${k}`));
    }
    block.appendChild(tiles);
    root.appendChild(block);
  }
}

function showKernels(k) {
  const root = document.getElementById("kernels");
  root.innerHTML = k.layers.length ? "" : '<p class="muted">this model has no conv2d layer</p>';
  for (const l of k.layers) {
    const [o, i, kh, kw] = l.shape;
    const block = document.createElement("div");
    block.className = "layer";
    block.innerHTML = `<div class="layer-title">layer ${l.layer}: ${l.summary} <span class="muted">scale ±${fmt(l.scale)}</span></div>`;
    const grid = document.createElement("div");
    grid.className = "kernel-grid";
    // One input channel: the output maps' kernels side by side; otherwise one row per output map, inputs across.
    grid.style.gridTemplateColumns = `repeat(${i === 1 || l.rgb ? Math.min(o, 16) : Math.min(i, 16)}, auto)`;
    const cell = Math.max(2, Math.floor(30 / Math.max(kh, kw)));
    if (l.rgb) {  // a colour first layer: each kernel's R, G, B slices as one patch, scaled per kernel
      block.querySelector(".layer-title").insertAdjacentHTML("beforeend",
        ' <span class="muted">— each kernel as one colour: its R, G, B slices, grey = 0, scaled per kernel</span>');
      for (let a = 0; a < Math.min(o, 256); a++)
        grid.appendChild(kernelPatch(l.weights, a * 3 * kh * kw, kh, kw, Math.max(3, Math.floor(48 / Math.max(kh, kw))),
                                     `out ${a}`));
      block.appendChild(grid);
      root.appendChild(block);
      continue;
    }
    for (let a = 0; a < Math.min(o, 64); a++)
      for (let b = 0; b < Math.min(i, 16); b++)
        grid.appendChild(valuesCanvas(l.weights, ((a * i) + b) * kh * kw, kh, kw, l.scale || 1, cell, `out ${a}, in ${b}`));
    block.appendChild(grid);
    root.appendChild(block);
  }
}

function fmt(v) { return Math.abs(v) >= 100 || v === 0 ? v.toFixed(0) : v.toPrecision(3); }

clearPad();
fetch("/api/model").then((r) => r.json()).then((m) => {
  model = m;
  const colour = m.input[0] === 3;
  document.getElementById("model-name").textContent = `— ${m.name}`;
  document.getElementById("model-info").textContent =
    `input ${m.input.join("×")}, ${m.layers.length} layers, ${m.parameters} parameters, ${m.epochs_trained} epochs trained; classes: ${m.classes.join(", ")}`;
  // A colour model was trained on photos: it gets a photo, not a drawing.
  document.getElementById("pad-box").hidden = colour;
  document.getElementById("photo-box").hidden = !colour;
  document.body.dataset.mode = colour ? "photo" : "draw";
  const zoom = Math.max(1, Math.floor(128 / Math.max(m.input[1], m.input[2])));  // whole pixels: crisp squares
  seen.width = m.input[2] * zoom;
  seen.height = m.input[1] * zoom;
  if (colour) {
    document.getElementById("classes").innerHTML = '<li class="muted">drop a photo or click a test image…</li>';
    document.querySelector("nav a").textContent = "photo";
  }
  return fetch("/api/samples").then((r) => r.json()).then(showStrip);
}).then(() => { document.body.dataset.ready = "1"; });
fetch("/api/kernels").then((r) => r.json()).then(showKernels);
