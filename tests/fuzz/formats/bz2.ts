/**
 * bzip2 streams, through the native shim (FFI: child process only) and the pure fallback:
 * single- and multi-stream files compressed here with the `bzip2` command, decompressed to the
 * end. Mutants flip bits in the stream and block headers (block size digit, magic, CRC, the
 * bit lengths at the start of a block), cut the stream, or glue garbage or a second stream on.
 */
import { decompressBz2 } from "../../../src/native/bz2.ts";
import { readFileChunks } from "../../../src/io/read_chunks.ts";
import type { FuzzFormat, Seed } from "../harness.ts";
import { below, concat, flipBits, mutateBytes, pick, type Rng, truncate } from "../mutate.ts";
import { SENTENCES, utf8 } from "./_fixtures.ts";

async function bzip2(input: Uint8Array, level = 9): Promise<Uint8Array> {
  const child = new Deno.Command("bzip2", {
    args: [`-${level}`, "-c"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  const [out] = await Promise.all([child.output(), writer.write(input).then(() => writer.close())]);
  if (!out.success) throw new Error("bzip2 failed (the fuzz seeds need the bzip2 command)");
  return out.stdout;
}

let seeds: Promise<Seed[]> | undefined;

function bz2Seeds(): Promise<Seed[]> {
  seeds ??= (async (): Promise<Seed[]> => {
    const text = utf8(Array(40).fill(SENTENCES.join(" ")).join("\n"));
    const one = await bzip2(text, 1);
    const small = await bzip2(utf8(SENTENCES[0]), 9);
    const multi = concat(one, small, await bzip2(utf8(SENTENCES[1]), 5));
    return [
      { label: "single", files: { "texto.txt.bz2": one } },
      { label: "small", files: { "curto.txt.bz2": small } },
      { label: "multistream", files: { "multi.txt.bz2": multi } },
    ];
  })();
  return seeds!;
}

function mutateBz2(rng: Rng, bytes: Uint8Array): Uint8Array {
  const op = below(rng, 5);
  if (op === 0 && bytes.length > 4) {
    const out = bytes.slice(); // block size digit: '0'..'9' and beyond
    out[3] = pick(rng, [0x30, 0x31, 0x39, 0x3a, 0x00, 0xff]);
    return out;
  }
  if (op === 1) { // bits in the first 64 bytes: stream and block headers, CRC, table lengths
    const head = flipBits(rng, bytes.subarray(0, Math.min(64, bytes.length)));
    return concat(head, bytes.subarray(head.length));
  }
  if (op === 2) return truncate(rng, bytes);
  if (op === 3) {
    return concat(bytes, pick(rng, [utf8("BZh9"), utf8("BZh91AY&SY"), new Uint8Array(7), bytes]));
  }
  return mutateBytes(rng, bytes);
}

function bz2Format(native: boolean): FuzzFormat {
  return {
    name: native ? "bz2-native" : "bz2-fallback",
    ffi: native,
    seeds: bz2Seeds,
    mutate: mutateBz2,
    async run(_root, file) {
      let n = 0;
      for await (const chunk of decompressBz2(readFileChunks(file, 4096), { name: file, native })) {
        n += chunk.length;
      }
    },
  };
}

export const bz2Native: FuzzFormat = bz2Format(true);
export const bz2Fallback: FuzzFormat = bz2Format(false);
