// The colour maps the pictures of `cnn show` use — diverging (ColorBrewer RdBu, blue for negative, white at zero),
// colour pictures and colour kernel patches — and drawing them onto canvases.
"use strict";
const RDBU = [[5, 48, 97], [33, 102, 172], [67, 147, 195], [146, 197, 222], [247, 247, 247],
              [244, 165, 130], [214, 96, 77], [178, 24, 43], [103, 0, 31]];

function diverging(t) {  // t in [-1, 1]
  if (!Number.isFinite(t)) t = 0;
  const u = (Math.max(-1, Math.min(1, t)) + 1) / 2 * (RDBU.length - 1);
  const i = Math.min(Math.floor(u), RDBU.length - 2), f = u - i;
  return RDBU[i].map((a, k) => Math.round(a + (RDBU[i + 1][k] - a) * f));
}

// A canvas showing h×w values starting at data[offset], `cell` pixels per value, coloured by value/scale.
function valuesCanvas(data, offset, h, w, scale, cell, title) {
  const c = document.createElement("canvas");
  c.width = w * cell; c.height = h * cell;
  if (title) c.title = title;
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    const [r, g, b] = diverging(data[offset + i] / scale);
    img.data.set([r, g, b, 255], 4 * i);
  }
  // Draw at one pixel per value, then scale up without smoothing: every value stays a crisp square.
  const small = document.createElement("canvas");
  small.width = w; small.height = h;
  small.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, w * cell, h * cell);
  return c;
}

// A canvas showing an h×w colour picture whose R, G, B planes start at data[offset], data[offset + h·w] and
// data[offset + 2·h·w]: values in 0..1 (or bytes, with unit 255), `cell` pixels per value. `smooth` draws a photo
// at its size without blocky pixels; otherwise every value stays a crisp square, as the maps do.
function rgbCanvas(data, offset, h, w, cell, unit = 1, smooth = false) {
  const plane = h * w, img = new ImageData(w, h);
  for (let i = 0; i < plane; i++)
    for (let k = 0; k < 3; k++)
      img.data[4 * i + k] = Math.round(255 * Math.max(0, Math.min(1, data[offset + k * plane + i] / unit)));
  for (let i = 0; i < plane; i++) img.data[4 * i + 3] = 255;
  return scaledCanvas(img, h, w, cell, smooth);
}

// A colour first layer's kernel (its three input slices from data[offset]) as one patch: mid-grey at zero, each
// channel 127.5 + 127.5·w/s with s the kernel's own max|w| — the rule of `cnn show kernels`.
function kernelPatch(data, offset, kh, kw, cell, title) {
  const plane = kh * kw;
  let s = 0;
  for (let i = 0; i < 3 * plane; i++) s = Math.max(s, Math.abs(data[offset + i]));
  const img = new ImageData(kw, kh);
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < 3; k++) {
      const t = s > 0 ? Math.max(-1, Math.min(1, data[offset + k * plane + i] / s)) : 0;
      img.data[4 * i + k] = Math.round(127.5 + 127.5 * t);
    }
    img.data[4 * i + 3] = 255;
  }
  const c = scaledCanvas(img, kh, kw, cell, false);
  if (title) c.title = title;
  return c;
}

function scaledCanvas(img, h, w, cell, smooth) {
  const small = document.createElement("canvas");
  small.width = w; small.height = h;
  small.getContext("2d").putImageData(img, 0, 0);
  if (cell === 1) return small;
  const c = document.createElement("canvas");
  c.width = w * cell; c.height = h * cell;
  const ctx = c.getContext("2d");
  ctx.imageSmoothingEnabled = smooth;
  if (smooth) ctx.imageSmoothingQuality = "high";
  ctx.drawImage(small, 0, 0, w * cell, h * cell);
  return c;
}
