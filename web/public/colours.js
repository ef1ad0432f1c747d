// The diverging colour map the pictures of `cnn show` use (ColorBrewer RdBu, blue for negative, white at zero),
// and drawing a grid of values onto a canvas with it.
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
