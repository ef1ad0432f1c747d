// The web page as a person uses it, in Debian's headless Chromium driven by playwright-core (web/node_modules):
//   1. trains a small model, starts `cnn serve` on a free loopback port, draws a stroke on the pad, and waits for
//      the top classes with probabilities, every layer's feature maps and the kernels to appear — updated while
//      drawing, not only at the end; screenshot: ARTIFACTS/serve.png.
//   2. starts `cnn train --serve 0` and watches the training page fill with batch points and an epoch row from
//      server-sent events; screenshot: ARTIFACTS/train.png.
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

  const serve = await startCnn(["serve", "--model", model, "--port", "0"], "cnn serve");
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
    if (pageErrors.length) fail("errors in the page: " + pageErrors.join("; "));

    await page.screenshot({path: path.join(artifacts, "serve.png"), fullPage: true});
    console.log(`web_browser: drew a stroke; top classes ${classes.slice(0, 3).map((c) => c.name + " " + c.pct + "%").join(", ")}; ` +
                `maps for ${layerBlocks} layers, ${kernels} kernels; screenshot ${path.join(artifacts, "serve.png")}`);

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
    await tpage.screenshot({path: path.join(artifacts, "train.png"), fullPage: true});
    console.log("web_browser: training page received " + (await tpage.evaluate(() => document.body.dataset.events)) +
                " events; screenshot " + path.join(artifacts, "train.png"));
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
