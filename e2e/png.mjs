// A minimal PNG encoder (8-bit RGBA, no filtering) so the test can make its own image.
import { deflateSync } from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Encodes width × height RGBA pixels (row-major) as a PNG file. */
export function encodePng(width, height, rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // colour type RGBA
  const raw = Buffer.alloc(height * (1 + 4 * width));
  for (let y = 0; y < height; y++) {
    raw[y * (1 + 4 * width)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * 4 * width, 4 * width).copy(raw, y * (1 + 4 * width) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Encodes width × height palette indices (8-bit, colour type 3) as a PNG file, with a PLTE of
 * `palette`'s RGB and a tRNS of its alphas (palette: [[r, g, b, a], …], at most 256).
 */
export function encodePalettePng(width, height, indices, palette) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 3; // colour type: palette
  const raw = Buffer.alloc(height * (1 + width));
  for (let y = 0; y < height; y++) raw.set(indices.subarray(y * width, (y + 1) * width), y * (1 + width) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('PLTE', Buffer.from(palette.flatMap(([r, g, b]) => [r, g, b]))),
    chunk('tRNS', Buffer.from(palette.map(([, , , a]) => a))),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A synthetic picture (no dataset pixels): sky, sea, a sun and a sailing boat. */
export function syntheticScene(width = 160, height = 120) {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x / width, v = y / height;
      let rgb;
      if (v < 0.6) rgb = [90 + 100 * v, 150 + 120 * v, 235]; // sky
      else rgb = [20, 70 + 60 * (v - 0.6), 140 + 40 * Math.sin(40 * u + 30 * v)]; // sea
      if ((u - 0.8) ** 2 + (v - 0.18) ** 2 < 0.006) rgb = [255, 215, 90]; // sun
      const hull = v > 0.52 && v < 0.62 && u > 0.3 + (v - 0.52) && u < 0.62 - (v - 0.52);
      const sail = u > 0.46 && u < 0.47 + 0.9 * (0.52 - v) && v > 0.2 && v <= 0.52;
      if (hull) rgb = [120, 60, 30];
      if (sail) rgb = [245, 245, 240];
      const i = 4 * (y * width + x);
      rgba[i] = rgb[0]; rgba[i + 1] = rgb[1]; rgba[i + 2] = rgb[2]; rgba[i + 3] = 255;
    }
  }
  return { width, height, rgba, png: encodePng(width, height, rgba) };
}
