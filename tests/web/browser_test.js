// The web page as a person uses it, in Debian's headless Chromium driven by playwright-core (web/node_modules):
//   1. trains a small model, starts `cnn serve` on a free loopback port, draws a stroke on the pad, and waits for
//      the top classes with probabilities, every layer's feature maps and the kernels to appear — updated while
//      drawing, not only at the end; screenshot: ARTIFACTS/serve.png.
//      Its "training run" link opens a page that says there is no training run here.
//   2. starts `cnn train --serve 0` and watches the training page fill with batch points and an epoch row from
//      server-sent events; screenshot: ARTIFACTS/train.png.
//   3. a colour model: writes CIFAR-10-format files from real pictures (Fashion-MNIST's, coloured), trains a tiny
//      colour net on them, starts `cnn serve --data`, uploads a photo (a PNG) through the file chooser, waits for
//      the top classes, the colour input and the maps, then clicks a test image of the strip and checks its true
//      label is shown; a file that is no picture gets its one-line error; screenshot: ARTIFACTS/serve_colour.png.
// Usage: node tests/web/browser_test.js --cnn build/cnn --artifacts build/artifacts   (run by ctest: web_browser)
"use strict";
const {spawn, spawnSync} = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? acc.concat([[a.slice(2), all[i + 1]]]) : acc), []));
const cnn = args.cnn || path.join(__dirname, "../../build/cnn");
const artifacts = args.artifacts || path.join(__dirname, "../../build/artifacts");
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";

function fail(message) {
  console.error("web_browser: FAILED: " + message);
  process.exitCode = 1;
  throw new Error(message);
}

let playwright;
try {
  playwright = require(path.join(__dirname, "../../web/node_modules/playwright-core"));
} catch (e) {
  fail("playwright-core is not installed in web/node_modules (run scripts/setup.sh): " + e.message);
}
if (!fs.existsSync(chromium)) fail(chromium + " not found (apt-get install chromium; scripts/setup.sh does it)");
if (!fs.existsSync(cnn)) fail(cnn + " not found (build first)");

// ---- pictures for the colour case ----------------------------------------------------------------------------------
const zlib = require("zlib");
const fashionDir = "/usr/share/datasets/fashion-mnist";
function readIdx(file) {  // an IDX file's payload after its header (images: 16 bytes, labels: 8)
  const b = zlib.gunzipSync(fs.readFileSync(path.join(fashionDir, file)));
  return b.subarray(b.readUInt32BE(0) === 0x803 ? 16 : 8);
}
const CRC_TABLE = Array.from({length: 256}, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
// An 8-bit RGB PNG of w×h pixels; rgb(x, y) gives [r, g, b].
function pngFile(file, w, h, rgb) {
  const raw = Buffer.alloc((3 * w + 1) * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) raw.set(rgb(x, y), y * (3 * w + 1) + 1 + 3 * x);
  const chunk = (type, data) => {
    const len = Buffer.alloc(4), crc = Buffer.alloc(4), body = Buffer.concat([Buffer.from(type), data]);
    len.writeUInt32BE(data.length);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);  // 8 bits, RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  fs.writeFileSync(file, Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(raw)),
                                        chunk("IEND", Buffer.alloc(0))]));
}
// Fashion-MNIST picture `i` in colour at w×h: the item in one colour over a sky-like gradient between two others,
// the palette's entries chosen by i, so neighbouring pictures differ.
const PALETTE = [[220, 60, 50], [240, 170, 40], [60, 150, 80], [40, 110, 200], [150, 70, 170], [250, 240, 220],
                 [30, 40, 60], [120, 200, 220], [200, 120, 90], [90, 90, 90]];
function colourPicture(images, i, w, h) {
  const fg = PALETTE[(i * 7) % 10], top = PALETTE[(i * 3 + 1) % 10], bottom = PALETTE[(i + 5) % 10];
  const scale = Math.min(w, h) / 32, ox = (w - 28 * scale) / 2, oy = (h - 28 * scale) / 2;
  return (x, y) => {
    const px = Math.floor((x - ox) / scale), py = Math.floor((y - oy) / scale);
    const v = px >= 0 && py >= 0 && px < 28 && py < 28 ? images[i * 784 + py * 28 + px] / 255 : 0;
    const t = y / Math.max(1, h - 1);
    return [0, 1, 2].map((k) => Math.round((top[k] * (1 - t) + bottom[k] * t) * (1 - v) + fg[k] * v));
  };
}
// CIFAR-10's binary layout: per record a label byte, then the R, G and B planes of 32×32.
function cifarRecords(images, labels, from, count) {
  const out = Buffer.alloc(count * 3073);
  for (let r = 0; r < count; r++) {
    const i = from + r, pixel = colourPicture(images, i, 32, 32);
    out[r * 3073] = labels[i];
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) {
        const c = pixel(x, y);
        for (let k = 0; k < 3; k++) out[r * 3073 + 1 + k * 1024 + y * 32 + x] = c[k];
      }
  }
  return out;
}

const children = [];
// Starts `cnn ARGS` and resolves with the URL it prints once it is listening.
function startCnn(cnnArgs, what) {
  return new Promise((resolve, reject) => {
    const child = spawn(cnn, cnnArgs, {stdio: ["ignore", "pipe", "pipe"]});
    children.push(child);
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${what}: no URL printed within 60 s; output: ${out}`)), 60000);
    const onData = (d) => {
      out += d.toString();
      const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\/[\w.]*/);
      if (m) { clearTimeout(timer); resolve({child, url: m[0], port: m[1]}); }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (d) => { out += d.toString(); });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`${what} exited (${code}) before listening: ${out}`)); });
  });
}

async function main() {
  fs.mkdirSync(artifacts, {recursive: true});
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cnn-web-"));
  const model = path.join(tmp, "model.cnn");
  console.log("web_browser: training a small model");
  const trained = spawnSync(cnn, ["train", "--epochs", "1", "--train-limit", "3000", "--test-limit", "500", "--quiet", "--out", model],
                            {encoding: "utf8"});
  if (trained.status !== 0) fail("cnn train failed: " + trained.stdout + trained.stderr);

  // A grey model keeps its drawing pad, and gets the strip of test images too.
  const serve = await startCnn(["serve", "--model", model, "--data", fashionDir, "--samples", "24", "--port", "0"],
                               "cnn serve");
  console.log("web_browser: cnn serve at " + serve.url);

  // A fresh profile (--user-data-dir) each run: playwright takes it as launchPersistentContext's first argument.
  const browser = await playwright.chromium.launchPersistentContext(path.join(tmp, "profile"), {
    executablePath: chromium,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    await page.setViewportSize({width: 1280, height: 1100});
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });
    page.on("response", (r) => { if (r.status() >= 400) pageErrors.push(`${r.status()} for ${r.url()}`); });

    await page.goto(serve.url, {waitUntil: "load"});
    await page.waitForSelector("body[data-ready]", {timeout: 20000});
    await page.waitForSelector("#kernels canvas", {timeout: 20000});

    // A stroke like a person's: press, move in small steps (the page predicts while the mouse moves), release.
    const box = await page.locator("#pad").boundingBox();
    const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
    const stroke = [[0.30, 0.22], [0.70, 0.22], [0.62, 0.40], [0.52, 0.60], [0.45, 0.82]];  // a "7"
    await page.mouse.move(...at(...stroke[0]));
    await page.mouse.down();
    let predictionsWhileDrawing = 0;
    for (let i = 1; i < stroke.length; i++) {
      await page.mouse.move(...at(...stroke[i]), {steps: 12});
      await page.waitForTimeout(150);
      predictionsWhileDrawing = Number(await page.evaluate(() => document.body.dataset.predictions || 0));
    }
    await page.mouse.up();
    if (predictionsWhileDrawing < 1) fail("no prediction arrived while drawing (live updates)");

    await page.waitForFunction(() => Number(document.body.dataset.predictions || 0) >= 2, null, {timeout: 20000});
    await page.waitForSelector("#classes li .pct", {timeout: 20000});
    const classes = await page.$$eval("#classes li", (lis) => lis.map((li) => ({
      name: li.querySelector(".name") ? li.querySelector(".name").textContent : "",
      pct: li.querySelector(".pct") ? parseFloat(li.querySelector(".pct").textContent) : NaN,
    })));
    if (classes.length < 3) fail(`expected the top classes, got ${JSON.stringify(classes)}`);
    for (const c of classes)
      if (!c.name || !(c.pct >= 0 && c.pct <= 100)) fail(`bad class line ${JSON.stringify(c)}`);
    for (let i = 1; i < classes.length; i++)
      if (classes[i].pct > classes[i - 1].pct) fail("classes are not ordered by probability: " + JSON.stringify(classes));

    const model_ = await (await page.request.get(serve.url + "api/model")).json();
    const layerBlocks = await page.$$eval("#maps .layer", (ls) => ls.length);
    if (layerBlocks !== model_.layers.length) fail(`feature maps for ${layerBlocks} layers, the model has ${model_.layers.length}`);
    const firstLayerMaps = await page.$$eval("#maps .layer:first-child canvas", (cs) => cs.length);
    if (firstLayerMaps !== model_.layers[0].output[0]) fail(`layer 0 shows ${firstLayerMaps} maps, expected ${model_.layers[0].output[0]}`);
    // The maps are pictures, not blank canvases: some pixel differs from the zero colour.
    const painted = await page.$eval("#maps .layer:first-child canvas", (c) => {
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - 247) > 20 || Math.abs(d[i + 2] - 247) > 20) return true;
      return false;
    });
    if (!painted) fail("the first feature map is blank");
    const kernels = await page.$$eval("#kernels canvas", (cs) => cs.length);
    if (kernels < 6) fail(`only ${kernels} kernels drawn`);
    const greyThumbs = await page.$$eval("#strip canvas", (cs) => cs.length);
    if (greyThumbs !== 24) fail(`the grey model's strip shows ${greyThumbs} test images, 24 asked`);
    if (await page.isVisible("#drop")) fail("a grey model shows the photo drop zone instead of keeping its pad");
    if (pageErrors.length) fail("errors in the page: " + pageErrors.join("; "));

    await page.screenshot({path: path.join(artifacts, "serve.png"), fullPage: true});
    console.log(`web_browser: drew a stroke; top classes ${classes.slice(0, 3).map((c) => c.name + " " + c.pct + "%").join(", ")}; ` +
                `maps for ${layerBlocks} layers, ${kernels} kernels; screenshot ${path.join(artifacts, "serve.png")}`);

    // The "training run" link under `cnn serve`: the page it opens says there is no training run here (its own
    // page, whose 404 for /api/training is the answer it reads).
    const npage = await browser.newPage();
    await npage.goto(serve.url, {waitUntil: "load"});
    await Promise.all([npage.waitForNavigation(), npage.click("nav a[href='/train.html']")]);
    await npage.waitForSelector("body[data-no-training]", {timeout: 20000});
    const noRun = await npage.textContent("#status");
    if (!/no training run here/.test(noRun) || /connection lost/.test(noRun))
      fail(`the training-run link under cnn serve says "${noRun}"`);
    await npage.close();

    // ---- 2. the training view ----
    const train = await startCnn(["train", "--epochs", "2", "--train-limit", "12000", "--test-limit", "500", "--threads", "1",
                                  "--quiet", "--serve", "0", "--out", path.join(tmp, "run.cnn")], "cnn train --serve");
    console.log("web_browser: following a training run at " + train.url);
    const tpage = await browser.newPage();
    await tpage.setViewportSize({width: 1000, height: 1000});
    tpage.on("pageerror", (e) => pageErrors.push(e.message));
    await tpage.goto(train.url, {waitUntil: "load"});
    await tpage.waitForFunction(() => Number(document.body.dataset.events || 0) >= 3, null, {timeout: 60000});
    await tpage.waitForSelector("#epochs tbody tr", {timeout: 90000});
    const paths = await tpage.$$eval("#loss-chart canvas", (cs) => cs.length);
    if (paths < 1) fail("the loss chart was not drawn");
    if (pageErrors.length) fail("errors in the training page: " + pageErrors.join("; "));
    await tpage.waitForTimeout(300);  // let the chart's animation frame land
    // A chart's canvas appears even with no data: the charts must hold the run's points, and the epoch row finite
    // numbers.
    const charted = await tpage.evaluate(() => ({
      xs: lossChart.data[0], loss: lossChart.data[1], testLoss: lossChart.data[2],
      accuracy: accuracyChart.data[1],
      rows: [...document.querySelectorAll("#epochs tbody tr")].map((tr) => [...tr.cells].map((td) => td.textContent)),
    }));
    const finite = (v) => typeof v === "number" && Number.isFinite(v);
    const trainPoints = charted.loss.filter(finite);
    if (charted.xs.length < 3 || !charted.xs.every(finite))
      fail("the loss chart has too few epoch positions: " + JSON.stringify(charted.xs));
    if (trainPoints.length < 2) fail("the loss chart holds no running-loss points: " + JSON.stringify(charted.loss));
    if (!trainPoints.every((v) => v > 0 && v < 10)) fail("running losses out of range: " + JSON.stringify(trainPoints));
    if (charted.testLoss.filter(finite).length < 1) fail("the loss chart holds no test loss");
    if (charted.accuracy.length < 1 || !charted.accuracy.every((v) => finite(v) && v >= 0 && v <= 1))
      fail("the accuracy chart holds no accuracy in [0, 1]: " + JSON.stringify(charted.accuracy));
    if (charted.rows.length < 1) fail("no epoch row");
    for (const row of charted.rows) {
      // epoch, train loss, test loss, test accuracy (with its %), seconds, images/s
      const values = row.map((t) => parseFloat(t));
      if (values.length !== 6 || !values.every(Number.isFinite) || values[0] < 1 || values[1] <= 0 || values[2] <= 0)
        fail("an epoch row without finite values: " + JSON.stringify(row));
    }
    await tpage.screenshot({path: path.join(artifacts, "train.png"), fullPage: true});
    console.log("web_browser: training page received " + (await tpage.evaluate(() => document.body.dataset.events)) +
                " events; screenshot " + path.join(artifacts, "train.png"));

    // ---- 3. a colour model: a photo and the strip of test images ----
    const images = readIdx("t10k-images-idx3-ubyte.gz"), labels = readIdx("t10k-labels-idx1-ubyte.gz");
    const cifar = path.join(tmp, "cifar-10-batches-bin");
    fs.mkdirSync(cifar);
    for (let b = 0; b < 5; b++)
      fs.writeFileSync(path.join(cifar, `data_batch_${b + 1}.bin`), cifarRecords(images, labels, 100 + 80 * b, 80));
    fs.writeFileSync(path.join(cifar, "test_batch.bin"), cifarRecords(images, labels, 0, 100));
    fs.writeFileSync(path.join(cifar, "batches.meta.txt"),
                     "T-shirt/top\nTrouser\nPullover\nDress\nCoat\nSandal\nShirt\nSneaker\nBag\nAnkle boot\n");
    const net = path.join(tmp, "colour.json");
    fs.writeFileSync(net, JSON.stringify({input: [3, 32, 32], loss: "softmax_cross_entropy", layers: [
      {type: "normalize"}, {type: "conv2d", filters: 8, kernel: 5}, {type: "relu"}, {type: "maxpool2d", kernel: 2},
      {type: "dense", units: 10}]}));
    const colourModel = path.join(tmp, "colour.cnn");
    const ctrained = spawnSync(cnn, ["train", "--net", net, "--data", cifar, "--epochs", "1", "--batch", "20",
                                     "--lr", "0.01", "--quiet",
                                     "--out", colourModel], {encoding: "utf8"});
    if (ctrained.status !== 0) fail("cnn train of the colour net failed: " + ctrained.stdout + ctrained.stderr);
    const cserve = await startCnn(["serve", "--model", colourModel, "--data", cifar, "--port", "0"],
                                  "cnn serve (colour)");
    console.log("web_browser: colour model served at " + cserve.url);
    const photo = path.join(tmp, "bag-on-a-sunset.png");
    const photoIndex = labels.findIndex((l) => l === 8);  // a bag, 120×80: the server pads it into 32×32
    pngFile(photo, 120, 80, colourPicture(images, photoIndex, 120, 80));

    const cpage = await browser.newPage();
    await cpage.setViewportSize({width: 1280, height: 1000});
    const colourErrors = [];
    cpage.on("pageerror", (e) => colourErrors.push(e.message));
    // The upload of a file that is no picture, at the end, is meant to get its 415.
    cpage.on("console", (m) => {
      if (m.type() === "error" && !/status of 415/.test(m.text())) colourErrors.push(m.text());
    });
    cpage.on("response", (r) => {
      if (r.status() >= 400 && !r.url().endsWith("/api/predict/image"))
        colourErrors.push(`${r.status()} for ${r.url()}`);
    });
    await cpage.goto(cserve.url, {waitUntil: "load"});
    await cpage.waitForSelector("body[data-ready]", {timeout: 20000});
    if (await cpage.isVisible("#pad")) fail("a colour model still shows the drawing pad");
    if (!(await cpage.isVisible("#drop"))) fail("a colour model shows no photo drop zone");
    const cmodel = await (await cpage.request.get(cserve.url + "api/model")).json();
    const strip = await (await cpage.request.get(cserve.url + "api/samples")).json();
    const thumbs = await cpage.$$eval("#strip canvas", (cs) => cs.length);
    if (strip.count !== 48 || thumbs !== 48)
      fail(`the strip shows ${thumbs} test images, the server has ${strip.count} (48 asked)`);
    const kernelPatches = await cpage.$$eval("#kernels .layer:first-child canvas", (cs) => cs.length);
    if (kernelPatches !== 8) fail(`the colour layer shows ${kernelPatches} kernels, expected one patch for each of 8`);

    // colour somewhere in a canvas: a pixel whose red, green and blue differ
    const coloured = (selector) => cpage.$eval(selector, (c) => {
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4)
        if (Math.abs(d[i] - d[i + 1]) > 30 || Math.abs(d[i + 1] - d[i + 2]) > 30) n++;
      return n;
    });
    const topClasses = () => cpage.$$eval("#classes li", (lis) => lis.map((li) => ({
      name: li.querySelector(".name") ? li.querySelector(".name").textContent : "",
      pct: li.querySelector(".pct") ? parseFloat(li.querySelector(".pct").textContent) : NaN,
    })));
    const checkClasses = (cls, what) => {
      if (cls.length < 3) fail(`${what}: expected the top classes, got ${JSON.stringify(cls)}`);
      for (let i = 0; i < cls.length; i++) {
        if (!cmodel.classes.includes(cls[i].name) || !(cls[i].pct >= 0 && cls[i].pct <= 100))
          fail(`${what}: bad class line ${JSON.stringify(cls[i])}`);
        if (i && cls[i].pct > cls[i - 1].pct)
          fail(`${what}: classes not ordered by probability: ${JSON.stringify(cls)}`);
      }
    };
    const predictionsNow = () => cpage.evaluate(() => Number(document.body.dataset.predictions || 0));

    // The photo, through the file chooser as a person picks it.
    await cpage.setInputFiles("#photo-file", photo);
    await cpage.waitForFunction(() => Number(document.body.dataset.predictions || 0) >= 1, null, {timeout: 20000});
    checkClasses(await topClasses(), "photo");
    const photoMaps = await cpage.$$eval("#maps .layer", (ls) => ls.length);
    if (photoMaps !== cmodel.layers.length)
      fail(`photo: feature maps for ${photoMaps} layers, the model has ${cmodel.layers.length}`);
    const conv = cmodel.layers[1];
    const convMaps = await cpage.$$eval("#maps .layer:nth-child(2) canvas", (cs) => cs.length);
    if (convMaps !== conv.output[0]) fail(`photo: the conv layer shows ${convMaps} maps, expected ${conv.output[0]}`);
    if ((await coloured("#seen")) < 100) fail("photo: what the network sees is not shown in colour");
    if (!(await cpage.isVisible("#photo-preview"))) fail("photo: the chosen photo is not shown");
    if (await cpage.isVisible("#truth")) fail("photo: a true label is shown for a photo that has none");

    // A test image of the strip: its prediction and its true label.
    const pick = 5, before = await predictionsNow();
    await cpage.click(`#strip canvas[data-sample="${pick}"]`);
    await cpage.waitForFunction((n) => Number(document.body.dataset.predictions || 0) > n, before, {timeout: 20000});
    await cpage.waitForSelector("#truth:not([hidden])", {timeout: 20000});
    const truth = await cpage.textContent("#truth");
    if (!truth.includes("true label: " + strip.samples[pick].name))
      fail(`strip: "${truth}" does not name the true label ${strip.samples[pick].name}`);
    const sampleClasses = await topClasses();
    checkClasses(sampleClasses, "strip");
    const answer = await (await cpage.request.post(cserve.url + "api/predict", {data: {sample: pick, maps: false}}))
      .json();
    if (sampleClasses[0].name !== answer.classes[0].name)
      fail(`strip: the page shows ${sampleClasses[0].name} first, the API ${answer.classes[0].name}`);
    if ((await coloured("#seen")) < 100) fail("strip: the test image the network sees is not in colour");
    if (colourErrors.length) fail("errors in the colour page: " + colourErrors.join("; "));
    await cpage.waitForTimeout(200);
    await cpage.screenshot({path: path.join(artifacts, "serve_colour.png"), fullPage: true});

    // A file that is no picture: the server's one line, in place of the classes.
    const notPhoto = path.join(tmp, "notes.png");
    fs.writeFileSync(notPhoto, "these are my notes, not a picture\n");
    const errorsBefore = await cpage.evaluate(() => Number(document.body.dataset.errors || 0));
    await cpage.setInputFiles("#photo-file", notPhoto);
    await cpage.waitForFunction((n) => Number(document.body.dataset.errors || 0) > n, errorsBefore, {timeout: 20000});
    const error = await cpage.textContent("#classes li.error");
    if (!/not a picture/.test(error)) fail(`a file that is no picture: the page says "${error}"`);
    if (colourErrors.length) fail("errors in the colour page: " + colourErrors.join("; "));
    console.log(`web_browser: colour model: photo and test image ${pick} (${strip.samples[pick].name}) classified, ` +
                `${thumbs} test images in the strip, ${kernelPatches} colour kernels; screenshot ` +
                path.join(artifacts, "serve_colour.png"));
  } finally {
    await browser.close();
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    fs.rmSync(tmp, {recursive: true, force: true});
  }
  console.log("web_browser: passed");
}

const overall = setTimeout(() => { fail("took longer than 200 s"); }, 200000);
main().catch((e) => {
  if (!process.exitCode) console.error("web_browser: FAILED: " + (e && e.stack || e));
  process.exitCode = 1;
}).finally(() => {
  clearTimeout(overall);
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
});
