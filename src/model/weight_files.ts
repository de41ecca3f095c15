/**
 * The weight files of a checkpoint directory, as Hugging Face lays them out: one
 * `model.safetensors`, or shards `model-0000N-of-0000M.safetensors` listed by
 * `model.safetensors.index.json` (`{"metadata": {...}, "weight_map": {tensor: shard}}`).
 *
 * Only the headers are read here; each tensor is read from its file (a positioned read,
 * converted from F32, F16, BF16 or F64 to F32) when its `data` is asked for, so a model can
 * be copied into its own buffers one tensor at a time, without a second copy of the
 * checkpoint. The index is checked against the shards: a file it names that is not there,
 * a tensor it places in a shard that lacks it, a shard tensor it does not list, a shard number
 * missing from an `-of-M` series — each a {@link BenteviError} naming the file and the entry.
 *
 * @module
 */
import { basename, join } from "node:path";
import { BenteviError, fsError } from "../errors.ts";
import { exists } from "../io/fs.ts";
import {
  type NamedTensor,
  readSafetensorsHeader,
  readTensorSync,
  type SafetensorsHeader,
} from "../io/safetensors.ts";

/** The single-file weights name. */
export const WEIGHTS_FILE = "model.safetensors";
/** The index of sharded weights. */
export const WEIGHTS_INDEX_FILE = "model.safetensors.index.json";
/** A shard's name, as Hugging Face writes it. */
const SHARD_NAME = /^model-(\d+)-of-(\d+)\.safetensors$/;

/** The weight files of a directory, headers read and checked. */
export interface WeightFiles {
  /** What error messages name: `model.safetensors`, or the index of sharded weights. */
  source: string;
  /** Every tensor, by its name in the files; `data` is read from disk on each access. */
  tensors: Map<string, NamedTensor>;
  /** The `__metadata__` of the (first) file. */
  metadata: Record<string, string>;
  /** The files the tensors live in (one, or the shards). */
  files: string[];
  /** Bytes of tensor data over all files. */
  dataBytes: number;
}

/**
 * A tensor whose values are read from `header`'s file whenever `data` is read (never kept):
 * read it once and hold the array.
 *
 * @example
 * ```ts
 * import { lazyTensor } from "./weight_files.ts";
 * import { readSafetensorsHeader, writeSafetensors } from "../io/safetensors.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, new Map([["x", { shape: [2], data: new Float32Array([1, 2]) }]]));
 * const t = lazyTensor(await readSafetensorsHeader(path), "x");
 * console.log(t.shape, t.data); // [2] Float32Array [1, 2]
 * ```
 */
export function lazyTensor(header: SafetensorsHeader, name: string): NamedTensor {
  const shape = header.tensors.get(name)!.shape;
  return {
    shape,
    get data() {
      return readTensorSync(header, name, { finite: true });
    },
  };
}

/**
 * `t` with another shape of the same size, keeping a lazy tensor lazy.
 *
 * @example
 * ```ts
 * import { reshaped } from "./weight_files.ts";
 * console.log(reshaped({ shape: [1, 2], data: new Float32Array(2) }, [2]).shape); // [2]
 * ```
 */
export function reshaped(t: NamedTensor, shape: number[]): NamedTensor {
  return {
    shape,
    get data() {
      return t.data;
    },
  };
}

/** Reads and checks `model.safetensors.index.json`: the shard of every tensor. */
async function readIndex(dir: string): Promise<Map<string, string>> {
  const path = join(dir, WEIGHTS_INDEX_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof SyntaxError) throw new BenteviError(`${path}: not valid JSON`);
    throw fsError(e, path);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (!map || typeof map !== "object" || Array.isArray(map)) {
    throw new BenteviError(`${path}: field "weight_map" is missing or not an object`);
  }
  const out = new Map<string, string>();
  for (const [tensor, file] of Object.entries(map)) {
    if (typeof file !== "string" || file === "" || basename(file) !== file || file === "..") {
      throw new BenteviError(
        `${path}: weight_map["${tensor}"] must be a file name in the same directory, got ${
          JSON.stringify(file)
        }`,
      );
    }
    out.set(tensor, file);
  }
  if (!out.size) throw new BenteviError(`${path}: field "weight_map" lists no tensor`);
  return out;
}

/** The `model-N-of-M` shards present in `dir` (to say that their index is missing). */
async function shardsIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (SHARD_NAME.test(e.name)) names.push(e.name);
  } catch (e) {
    throw fsError(e, dir);
  }
  return names.sort();
}

/**
 * Opens the weights of a checkpoint directory: `model.safetensors` when present, else the
 * shards named by `model.safetensors.index.json`. Reads headers only.
 *
 * @example
 * ```ts
 * import { openWeightFiles } from "./weight_files.ts";
 * try {
 *   await openWeightFiles("/no/such/dir");
 * } catch (e) {
 *   console.log((e as Error).message);
 * }
 * ```
 */
export async function openWeightFiles(dir: string): Promise<WeightFiles> {
  const single = join(dir, WEIGHTS_FILE);
  if (await exists(single)) {
    const header = await readSafetensorsHeader(single);
    const tensors = new Map<string, NamedTensor>();
    let dataBytes = 0;
    for (const [name, e] of header.tensors) {
      tensors.set(name, lazyTensor(header, name));
      dataBytes += e.end - e.begin;
    }
    return { source: single, tensors, metadata: header.metadata, files: [single], dataBytes };
  }
  const indexPath = join(dir, WEIGHTS_INDEX_FILE);
  if (!(await exists(indexPath))) {
    const shards = await shardsIn(dir);
    if (shards.length) {
      throw new BenteviError(
        `${dir}: sharded weights (${shards[0]}…) but no ${WEIGHTS_INDEX_FILE} to list them`,
      );
    }
    throw new BenteviError(
      `${dir}: no ${WEIGHTS_FILE} (only safetensors weights are read; convert .bin/.pth first)`,
    );
  }
  const index = await readIndex(dir);
  // The shard series: every name `model-N-of-M` with one M, and every N of 1…M used.
  const files = [...new Set(index.values())];
  let of: number | undefined;
  const numbers = new Set<number>();
  for (const f of files) {
    const m = SHARD_NAME.exec(f);
    if (!m) continue;
    const total = Number(m[2]);
    if (of !== undefined && total !== of) {
      throw new BenteviError(
        `${indexPath}: weight_map mixes shard series of ${of} and of ${total} files (${f})`,
      );
    }
    of = total;
    numbers.add(Number(m[1]));
  }
  if (of !== undefined) {
    for (let n = 1; n <= of; n++) {
      if (!numbers.has(n)) {
        const width = files.find((f) => SHARD_NAME.test(f))!.match(/-(\d+)-of-/)![1].length;
        const name = `model-${String(n).padStart(width, "0")}-of-${
          String(of).padStart(width, "0")
        }.safetensors`;
        throw new BenteviError(
          `${indexPath}: weight_map puts no tensor in shard ${name} (shard ${n} of ${of} is missing)`,
        );
      }
    }
  }
  const headers = new Map<string, SafetensorsHeader>();
  for (const f of files) {
    const path = join(dir, f);
    if (!(await exists(path))) {
      const tensor = [...index].find(([, file]) => file === f)![0];
      throw new BenteviError(
        `${indexPath}: weight_map["${tensor}"] names ${f}, which is not in ${dir} (a missing shard)`,
      );
    }
    headers.set(f, await readSafetensorsHeader(path));
  }
  const tensors = new Map<string, NamedTensor>();
  for (const [tensor, f] of index) {
    const header = headers.get(f)!;
    if (!header.tensors.has(tensor)) {
      throw new BenteviError(
        `${indexPath}: weight_map["${tensor}"] says ${f}, but that file has no tensor ${tensor}`,
      );
    }
    tensors.set(tensor, lazyTensor(header, tensor));
  }
  let dataBytes = 0;
  for (const [f, header] of headers) {
    for (const [name, e] of header.tensors) {
      dataBytes += e.end - e.begin;
      if (index.get(name) !== f) {
        throw new BenteviError(
          `${join(dir, f)}: tensor ${name} is not listed for this file in ${WEIGHTS_INDEX_FILE}` +
            (index.has(name) ? ` (the index says ${index.get(name)})` : ""),
        );
      }
    }
  }
  return {
    source: indexPath,
    tensors,
    metadata: headers.get(files[0])!.metadata,
    files: files.map((f) => join(dir, f)),
    dataBytes,
  };
}
