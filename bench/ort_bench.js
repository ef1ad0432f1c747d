// ONNX Runtime's side of bench/onnxruntime.sh: the same exported model file and test images as cnn_bench's
// inference, in batches of 50 (best of three passes over the 10,000 images, the pixels scaled to [0, 1] per batch as
// cnn does) and one image at a time (the median of 200 after 20 to warm up).
//   node bench/ort_bench.js MODEL.onnx IMAGES-idx3-ubyte.gz THREADS [BATCH]
// Prints one line in cnn_bench's key=value format. intraOpNumThreads = THREADS, interOpNumThreads 1, sequential.
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const path = require('path');
const modules = path.resolve(process.env.ORT_MODULES || 'node_modules');
const ort = require(path.join(modules, 'onnxruntime-node'));

function readIdx(file) {
  let bytes = fs.readFileSync(file);
  if (file.endsWith('.gz')) bytes = zlib.gunzipSync(bytes);
  const dims = bytes[3];
  const shape = [];
  for (let i = 0; i < dims; ++i) shape.push(bytes.readUInt32BE(4 + 4 * i));
  return {shape, pixels: bytes.subarray(4 + 4 * dims)};
}

async function main() {
  const [model, images, threadsArg, batchArg] = process.argv.slice(2);
  const threads = Number(threadsArg || 1), batch = Number(batchArg || 50);
  const {shape, pixels} = readIdx(images);
  const n = shape[0], size = shape[1] * shape[2];
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all'});
  const input = session.inputNames[0];
  const run = async (first, count) => {
    const x = new Float32Array(count * size);
    for (let i = 0; i < count * size; ++i) x[i] = pixels[first * size + i] / 255;
    return session.run({[input]: new ort.Tensor('float32', x, [count, 1, shape[1], shape[2]])});
  };
  let best = Infinity;
  for (let rep = 0; rep < 3; ++rep) {
    const t0 = process.hrtime.bigint();
    for (let b = 0; b < n; b += batch) await run(b, Math.min(batch, n - b));
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const latency = [];
  for (let i = 0; i < 220; ++i) {
    const t0 = process.hrtime.bigint();
    await run(i, 1);
    if (i >= 20) latency.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  latency.sort((a, b) => a - b);
  console.log(`threads=${threads} infer_ips=${(n / best).toFixed(0)} latency1_us=${latency[100].toFixed(1)} ` +
              `ort=${require(path.join(modules, 'onnxruntime-node/package.json')).version}`);
}
main().catch((e) => {
  console.error(`ort_bench: ${e.message}`);
  process.exit(1);
});
