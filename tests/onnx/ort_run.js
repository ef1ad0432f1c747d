// Runs an ONNX file in ONNX Runtime (npm onnxruntime-node, CPU) on one float32 input, for tests/test_onnx.cpp:
//   node tests/onnx/ort_run.js MODEL.onnx INPUT.f32 D0,D1,... OUTPUT.f32
// INPUT.f32 and OUTPUT.f32 are raw little-endian float32 values; the input feeds the graph's first input and the
// graph's first output is written. ORT_MODULES names the node_modules folder that holds onnxruntime-node.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(path.resolve(process.env.ORT_MODULES || 'node_modules'), 'onnxruntime-node'));

async function main() {
  const [model, input, dimsArg, output] = process.argv.slice(2);
  const dims = dimsArg.split(',').map(Number);
  const bytes = fs.readFileSync(input);
  const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 1, interOpNumThreads: 1});
  const result = await session.run({[session.inputNames[0]]: new ort.Tensor('float32', values, dims)});
  const y = result[session.outputNames[0]].data;
  fs.writeFileSync(output, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}

main().catch((e) => {
  console.error(`ort_run: ${e.message}`);
  process.exit(1);
});
