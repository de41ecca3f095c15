import assert, { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  dequantize,
  dequantizeQ4_0,
  dequantizeQ8_0,
  quantize,
  quantizeQ4_0,
  quantizeQ8_0,
} from "../../src/quant/mod.ts";
import {
  bfloat16ToFloat,
  floatToBfloat16,
  floatToHalf,
  halfToFloat,
} from "../../src/io/float16.ts";

Deno.test("float16: every finite half round-trips; ties go to even; overflow to infinity", () => {
  for (let h = 0; h < 65536; h++) {
    const v = halfToFloat(h);
    if (!Number.isNaN(v)) assertEquals(floatToHalf(v), h);
  }
  assertEquals(floatToHalf(1 + 2 ** -11), 0x3c00); // tie → even
  assertEquals(floatToHalf(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
  assertEquals(floatToHalf(65520), 0x7c00);
  assertEquals(floatToHalf(1.5 * 2 ** -24), 0x0002); // subnormal tie → even
  assertEquals(floatToHalf(-0), 0x8000);
  assertEquals(floatToBfloat16(1), 0x3f80);
  assertEquals(floatToBfloat16(bfloat16ToFloat(0x4049)), 0x4049);
  assertEquals(floatToBfloat16(1 + 2 ** -8), 0x3f80); // tie → even
  assertEquals(floatToBfloat16(1 + 3 * 2 ** -8), 0x3f82);
});

Deno.test("Q8_0: ggml's block bytes (scale as float16, roundf half away from zero)", () => {
  const x = new Float32Array(32);
  x[0] = 127; // d = 1, id = 1
  x[1] = -2.5;
  x[2] = 2.5;
  x[3] = -0.5;
  x[4] = 0.49;
  x[5] = -127;
  const q = quantizeQ8_0(x);
  assertEquals(q.length, 34);
  assertEquals(q[0] | (q[1] << 8), 0x3c00); // d = 1.0
  assertEquals([...new Int8Array(q.buffer, 2, 6)], [127, -3, 3, -1, 0, -127]);
  // A ramp: amax 16, d = fround(16/127), id = fround(1/d) = 7.9375.
  const ramp = Float32Array.from({ length: 32 }, (_, i) => i - 16);
  const r = quantizeQ8_0(ramp);
  assertEquals(r[0] | (r[1] << 8), floatToHalf(Math.fround(16 / 127)));
  const qs = new Int8Array(r.buffer, 2, 32);
  assertEquals(qs[0], -127);
  assertEquals(qs[31], Math.round(15 * 7.9375)); // 119.0625 → 119
  // An all-zero block: d = 0, quants 0.
  assertEquals([...quantizeQ8_0(new Float32Array(32))], new Array(34).fill(0));
});

Deno.test("Q4_0: ggml's nibbles (d = max/−8 with its sign, trunc(x/d + 8.5) capped at 15)", () => {
  const x = new Float32Array(32).fill(0);
  x[0] = -8; // largest magnitude, negative: d = 1, id = 1
  x[1] = 7; // 15.5 → 15
  x[2] = 7.9; // 16.4 → 15 (capped)
  x[3] = -0.5; // 8.0 → 8
  x[4] = -0.6; // 7.9 → 7
  x[16] = 3; // high nibble of byte 0: 11.5 → 11
  const q = quantizeQ4_0(x);
  assertEquals(q.length, 18);
  assertEquals(q[0] | (q[1] << 8), 0x3c00);
  assertEquals(q[2], 0 | (11 << 4));
  assertEquals(q[3] & 15, 15);
  assertEquals(q[4] & 15, 15);
  assertEquals(q[5] & 15, 8);
  assertEquals(q[6] & 15, 7);
  assertEquals(q[7], 8 | (8 << 4)); // zeros → 8
  // The largest magnitude positive: d negative, so the ordering of nibbles flips.
  const y = new Float32Array(32);
  y[0] = 8;
  const p = quantizeQ4_0(y);
  assertEquals(p[0] | (p[1] << 8), 0xbc00); // d = −1
  assertEquals(p[2] & 15, 0); // 8 · −1 + 8.5 = 0.5 → 0 → value (0 − 8) · −1 = 8
  assertEquals(dequantizeQ4_0(p, 32)[0], 8);
});

Deno.test("Q8_0/Q4_0: dequantized error within half a step (+ the scale's float16 rounding); layout of several blocks", () => {
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 4;
  const x = Float32Array.from({ length: 32 * 50 }, rnd);
  for (const [type, steps] of [["q8_0", 127], ["q4_0", 8]] as const) {
    const q = quantize(type, x);
    assertEquals(q.length, 50 * (type === "q8_0" ? 34 : 18));
    const y = dequantize(type, q, x.length);
    for (let b = 0; b < 50; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
      const step = amax / steps;
      for (let j = 0; j < 32; j++) {
        const e = Math.abs(y[b * 32 + j] - x[b * 32 + j]);
        // Half a step, plus the float16 rounding of the scale (≤ 2⁻¹¹ relative) over ≤ 127 steps.
        // Q4_0 caps at +7 steps on the side opposite the largest value: up to one step there.
        const bound = type === "q8_0" ? step * 0.5 : step;
        assert(e <= bound + amax * 2 ** -10 + 1e-7, `${type} block ${b}: error ${e}`);
      }
    }
  }
  // Dequantizing a quantized block and quantizing it again gives the same bytes.
  const q8 = quantizeQ8_0(x);
  assertEquals(quantizeQ8_0(dequantizeQ8_0(q8, x.length)), q8);
  const q4 = quantizeQ4_0(x);
  assertEquals(quantizeQ4_0(dequantizeQ4_0(q4, x.length)), q4);
});
