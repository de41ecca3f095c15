/**
 * rwkv.cpp `ggmf` files (RWKV-4): written here from a tiny model (FP32 and FP16), converted
 * with `convertRwkvCpp` (what `bentevi convert rwkv-cpp` does). Lies target the header's six
 * int32 and every tensor header's dims, key length and data type.
 */
import { join } from "node:path";
import { GGMF_MAGIC } from "../../../src/model/rwkv/cpp.ts";
import { convertRwkvCpp } from "../../../src/model/rwkv/cpp.ts";
import { initWeights } from "../../../src/model/mod.ts";
import type { FuzzFormat } from "../harness.ts";
import { below, type IntField, lieInt, mutateBytes } from "../mutate.ts";
import { tinyRwkv, utf8 } from "./_fixtures.ts";

function toHalf(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = (u >>> 13) & 0x3ff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | mant;
}

/** One tensor of an rwkv.cpp file: its name, shape (row-major) and data type (0 FP32, 1 FP16). */
export interface GgmfTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array;
  type: 0 | 1;
}

/**
 * Encodes an rwkv.cpp (ggmf) file from its header fields and tensors, in order; returns its
 * bytes and the offsets of its integer fields.
 */
export function encodeGgmf(
  header: { vocab: number; nEmbed: number; nLayer: number; type: 0 | 1 },
  tensors: Iterable<GgmfTensor>,
): { bytes: Uint8Array; fields: IntField[] } {
  const parts: Uint8Array[] = [];
  const fields: IntField[] = [4, 8, 12, 16, 20].map((offset) => ({ offset, size: 4 }));
  let offset = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    offset += b.length;
  };
  const { vocab, nEmbed, nLayer, type } = header;
  push(new Uint8Array(new Int32Array([GGMF_MAGIC, 100, vocab, nEmbed, nLayer, type]).buffer));
  for (const t of tensors) {
    const dims = t.shape.slice().reverse();
    const key = utf8(t.name);
    for (let k = 0; k < 3 + dims.length; k++) fields.push({ offset: offset + 4 * k, size: 4 });
    push(new Uint8Array(new Int32Array([dims.length, key.length, t.type, ...dims]).buffer));
    push(key);
    push(
      t.type === 0
        ? new Uint8Array(t.data.slice().buffer)
        : new Uint8Array(Uint16Array.from(t.data, toHalf).buffer),
    );
  }
  const bytes = new Uint8Array(offset);
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, fields };
}

/** Encodes RWKV-4 weights as an rwkv.cpp file; returns its bytes and its integer fields. */
export function encodeRwkvCpp(
  vocab: number,
  nEmbed: number,
  nLayer: number,
  weights: Map<string, { shape: number[]; data: Float32Array }>,
  type: 0 | 1,
): { bytes: Uint8Array; fields: IntField[] } {
  const tensors = [...weights].map(([name, t]) => ({
    name,
    shape: t.shape,
    data: name.endsWith("att.time_decay") ? t.data.map((w) => -Math.exp(w)) : t.data,
    type,
  }));
  return encodeGgmf({ vocab, nEmbed, nLayer, type }, tensors);
}

const FIELDS = new Map<string, IntField[]>();

export const rwkvCpp: FuzzFormat = {
  name: "rwkv-cpp",
  seeds() {
    const config = tinyRwkv(256);
    const weights = initWeights(config, 5);
    return Promise.resolve(([0, 1] as const).map((type) => {
      const { bytes, fields } = encodeRwkvCpp(256, config.dModel, config.nLayer, weights, type);
      const label = type ? "fp16" : "fp32";
      FIELDS.set(label, fields);
      return { label, files: { [`tiny-${label}.bin`]: bytes } };
    }));
  },
  mutate(rng, bytes, file) {
    const fields = FIELDS.get(file.includes("fp16") ? "fp16" : "fp32") ?? [];
    return below(rng, 2) === 0 ? lieInt(rng, bytes, fields) : mutateBytes(rng, bytes);
  },
  async run(root, file) {
    await convertRwkvCpp(file, join(root, "converted"));
  },
};
