import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import {
  gguf,
  type GgufWriteValue,
  openGguf,
  parseGguf,
  readGgufTensor,
  writeGguf,
} from "../../src/gguf/mod.ts";
import { encodeTensor } from "../../src/gguf/export.ts";
import { dequantize, quantize } from "../../src/quant/mod.ts";
import { halfToFloat } from "../../src/io/float16.ts";
import { moduleTempDir } from "../_tmp.ts";

const dir = await moduleTempDir({ prefix: "bentevi-gguf-" });

function sample(n: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from(
    { length: n },
    () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5,
  );
}

async function sampleFile(name = "a.gguf", alignment?: number): Promise<string> {
  const path = `${dir}/${name}`;
  const meta = new Map<string, GgufWriteValue>([
    ["general.architecture", gguf.string("teste")],
    ["u8", { type: "u8", value: 200 }],
    ["i8", { type: "i8", value: -5 }],
    ["u16", { type: "u16", value: 60000 }],
    ["i16", { type: "i16", value: -300 }],
    ["u32", gguf.u32(4e9)],
    ["i32", gguf.i32(-7)],
    ["f32", gguf.f32(0.5)],
    ["f64", { type: "f64", value: Math.PI }],
    ["u64", { type: "u64", value: 2 ** 40 }],
    ["i64", { type: "i64", value: -(2 ** 40) }],
    ["bool", gguf.bool(true)],
    ["texto", gguf.string("ação ✓")],
    ["lista", gguf.strings(["a", "bê", ""])],
    ["números", gguf.i32s([1, -2, 3])],
  ]);
  if (alignment) meta.set("general.alignment", gguf.u32(alignment));
  const x = sample(64 * 3);
  await writeGguf(path, meta, [
    { name: "f32", shape: [3, 64], type: "F32", data: () => encodeTensor("F32", x) },
    { name: "f16", shape: [3, 64], type: "F16", data: () => encodeTensor("F16", x) },
    { name: "bf16", shape: [192], type: "BF16", data: () => encodeTensor("BF16", x) },
    { name: "q8", shape: [3, 64], type: "Q8_0", data: () => encodeTensor("Q8_0", x) },
    { name: "q4", shape: [1, 3, 64], type: "Q4_0", data: () => encodeTensor("Q4_0", x) },
  ]);
  return path;
}

Deno.test("GGUF: writer → reader round trip (every value type, arrays, UTF-8, tensor types, ggml dimension order)", async () => {
  const path = await sampleFile();
  const f = openGguf(path);
  try {
    assert.equal(f.version, 3);
    const v = (k: string) => f.metadata.get(k)?.value;
    assert.deepEqual(
      ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "f64", "u64", "i64", "bool"].map(v),
      [200, -5, 60000, -300, 4e9, -7, 0.5, Math.PI, 2 ** 40, -(2 ** 40), true],
    );
    assert.equal(v("texto"), "ação ✓");
    assert.deepEqual(v("lista"), ["a", "bê", ""]);
    assert.deepEqual(v("números"), [1, -2, 3]);
    assert.equal(f.metadata.get("números")?.itemType, "i32");
    const x = sample(64 * 3);
    const t = f.tensors.get("f32")!;
    assert.deepEqual(t.dims, [64, 3]);
    assert.deepEqual(t.shape, [3, 64]);
    assert.equal(t.begin % 32, 0);
    assert.deepEqual(readGgufTensor(f, t), x);
    const h = readGgufTensor(f, f.tensors.get("f16")!);
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(h[i] - x[i]) <= Math.abs(x[i]) * 1e-3);
    const b = readGgufTensor(f, f.tensors.get("bf16")!);
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(b[i] - x[i]) <= Math.abs(x[i]) * 8e-3);
    assert.deepEqual(
      readGgufTensor(f, f.tensors.get("q8")!),
      dequantize("q8_0", quantize("q8_0", x), x.length),
    );
    assert.deepEqual(f.tensors.get("q4")!.dims, [64, 3, 1]);
    assert.deepEqual(
      readGgufTensor(f, f.tensors.get("q4")!),
      dequantize("q4_0", quantize("q4_0", x), x.length),
    );
    assert.equal(halfToFloat(0x3c00), 1);
  } finally {
    f.close();
  }
  // A custom alignment is honoured; version 2 (same layout) reads too.
  const p64 = await sampleFile("b.gguf", 64);
  const g = openGguf(p64);
  assert.equal(g.alignment, 64);
  for (const t of g.tensors.values()) assert.equal((t.begin - g.dataOffset) % 64, 0);
  g.close();
  const bytes = await Deno.readFile(path);
  new DataView(bytes.buffer).setUint32(4, 2, true);
  assert.equal(parseGguf(bytes, "v2.gguf").version, 2);
});

/** The one-line error a lying file gets, checked to be a BenteviError matching `re`. */
function refused(bytes: Uint8Array, re: RegExp): void {
  assert.throws(() => parseGguf(bytes, "x.gguf"), (e: unknown) => {
    assert.ok(e instanceof BenteviError, `not a BenteviError: ${e}`);
    assert.ok(!(e as Error).message.includes("\n"));
    assert.match((e as Error).message, re);
    return true;
  });
}

Deno.test("GGUF: lying headers → one-line errors naming what is wrong, nothing allocated from a lie", async () => {
  const good = await Deno.readFile(await sampleFile("c.gguf"));
  parseGguf(good, "c.gguf"); // the unmutated file is valid
  // Every truncation of the header and of the data.
  for (let n = 0; n < good.length; n += n < 400 ? 1 : 97) {
    refused(good.slice(0, n), /not a GGUF file|truncated|past the end|cannot fit|remain/);
  }
  const patch = (at: number, fn: (d: DataView) => void) => {
    const b = good.slice();
    fn(new DataView(b.buffer, at));
    return b;
  };
  refused(patch(0, (d) => d.setUint32(0, 0x46554746, true)), /no "GGUF" magic/);
  refused(patch(4, (d) => d.setUint32(0, 1, true)), /version 1 is not supported/);
  refused(patch(4, (d) => d.setUint32(0, 4, true)), /version 4 is not supported/);
  // Tensor count: one more than the file has (the next "info" is the data), and 2⁶⁰.
  refused(patch(8, (d) => d.setBigUint64(0, 6n, true)), /./);
  refused(patch(8, (d) => d.setBigUint64(0, 1n << 60n, true)), /impossibly large|cannot fit/);
  refused(patch(16, (d) => d.setBigUint64(0, 1n << 40n, true)), /metadata entries cannot fit/);
  // The first value's type (after the key "general.architecture": 8 + 20 bytes at 24).
  refused(patch(24 + 8 + 20, (d) => d.setUint32(0, 99, true)), /unknown value type 99/);
  // The string value's length, then a huge array length.
  refused(patch(24 + 8 + 20 + 4, (d) => d.setBigUint64(0, 1n << 50n, true)), /truncated/);
  const listKey = new TextEncoder().encode("lista");
  const at = indexOf(good, listKey) + listKey.length + 8; // value type, item type, length
  refused(patch(at, (d) => d.setBigUint64(0, 1n << 40n, true)), /1099511627776 array elements/);
  // A string that is not UTF-8.
  const txt = indexOf(good, new TextEncoder().encode("ação"));
  const bad = good.slice();
  bad[txt + 1] = 0xff;
  refused(bad, /not UTF-8/);
  // Offsets past the end, misaligned, overlapping; an unknown ggml type.
  // The info of tensor "q4": u64 name length 2, "q4", u32 3 dims, 3 × u64, u32 type, u64 offset.
  const q4 = indexOf(good, Uint8Array.from([2, 0, 0, 0, 0, 0, 0, 0, 0x71, 0x34]));
  const q4Offset = q4 + 10 + 4 + 24 + 4;
  refused(patch(q4Offset, (d) => d.setBigUint64(0, 1n << 40n, true)), /runs past the end/);
  refused(patch(q4Offset, (d) => d.setBigUint64(0, 33n, true)), /not a multiple of the alignment/);
  refused(patch(q4Offset, (d) => d.setBigUint64(0, 0n, true)), /overlap/);
  refused(patch(q4Offset - 4, (d) => d.setUint32(0, 77, true)), /unknown ggml type 77/);
  refused(
    patch(q4 + 14, (d) => d.setBigUint64(0, 1n << 50n, true)),
    /more values than the file|impossibly/,
  );
  refused(patch(q4 + 10, (d) => d.setUint32(0, 9, true)), /9 dimensions/);
});

function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = Math.max(0, from); i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error("not found");
}
