/**
 * File-system helpers shared across modules.
 *
 * @module
 */
import { dirname } from "node:path";
import { BenteviError, fsError } from "../errors.ts";

/**
 * Whether `path` exists (a file or a folder). A missing path, or one under something that is
 * not a folder, is `false`; any other error (e.g. permission denied) is thrown as a
 * `BenteviError` naming the path.
 *
 * @example
 * ```ts
 * import { exists } from "./fs.ts";
 * console.log(await exists("/surely/not/here")); // false
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
    throw fsError(e, path);
  }
}

/**
 * The identity of an existing path, following symbolic links: its device and inode (so two
 * spellings of a path, a symbolic link and a hard link all give the same identity), or its
 * real path where the OS reports no inode. `null` when nothing is there.
 */
async function identity(path: string): Promise<string | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
    throw fsError(e, path);
  }
  if (info.dev !== null && info.ino !== null) return `${info.dev}:${info.ino}`;
  return await Deno.realPath(path);
}

/** The identities of `path` (resolved through links) and of every folder above it. */
async function identityChain(path: string): Promise<string[]> {
  let real: string;
  try {
    real = await Deno.realPath(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return [];
    throw fsError(e, path);
  }
  const ids: string[] = [];
  for (let p = real;; p = dirname(p)) {
    const id = await identity(p);
    if (id) ids.push(id);
    if (dirname(p) === p) return ids;
  }
}

/**
 * Refuses to write an output over one of the command's inputs: an existing `outputs` entry
 * that is the same file as an input (by device and inode, so through symbolic links, hard
 * links and other spellings of the path), or that lies inside an input folder (whose files
 * the command reads), is a {@link BenteviError} naming both. Outputs that do not exist yet
 * pass. `option` names the output flag in the message.
 *
 * @example
 * ```ts
 * import { refuseOutputOverInputs } from "./fs.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/corpus.txt`, "olá");
 * await refuseOutputOverInputs([`${dir}/corpus.txt`], [`${dir}/./corpus.txt`], "--output")
 *   .catch((e) => console.log(e.message)); // "…/corpus.txt: --output is the input …"
 * ```
 */
export async function refuseOutputOverInputs(
  outputs: readonly string[],
  inputs: readonly string[],
  option = "--output",
): Promise<void> {
  const known = new Map<string, string>();
  for (const input of inputs) {
    const id = await identity(input);
    if (id && !known.has(id)) known.set(id, input);
  }
  if (!known.size) return;
  for (const out of outputs) {
    const chain = await identityChain(out);
    for (const [i, id] of chain.entries()) {
      const input = known.get(id);
      if (input === undefined) continue;
      throw new BenteviError(
        i === 0
          ? `${out}: ${option} is the input ${input}${
            input === out ? "" : " (the same file)"
          }; writing it would destroy the input — choose another ${option}`
          : `${out}: ${option} is inside the input folder ${input}, whose files are read as input; choose another ${option}`,
      );
    }
  }
}

/**
 * Refuses to replace or empty the folder `dir` while an input lies inside it (or is it): a
 * {@link BenteviError} naming the input and `why` (what would happen to it). Inputs that do
 * not exist pass.
 *
 * @example
 * ```ts
 * import { refuseInputsInside } from "./fs.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/corpus.txt`, "olá");
 * await refuseInputsInside(dir, [`${dir}/corpus.txt`], "--force deletes the run directory")
 *   .catch((e) => console.log(e.message));
 * ```
 */
export async function refuseInputsInside(
  dir: string,
  inputs: readonly string[],
  why: string,
): Promise<void> {
  const dirId = await identity(dir);
  if (!dirId) return;
  for (const input of inputs) {
    if ((await identityChain(input)).includes(dirId)) {
      throw new BenteviError(
        `${input}: this input is inside ${dir}, and ${why}; move the input or choose another output`,
      );
    }
  }
}

/**
 * The parsed JSON of the file at `path`; a missing or unreadable file, or text that is not
 * JSON, is a one-line {@link BenteviError} naming it.
 *
 * @example
 * ```ts
 * import { readJsonFile } from "./fs.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, '{"a": 1}');
 * console.log(await readJsonFile(path)); // { a: 1 }
 * ```
 */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw fsError(e, path);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new BenteviError(`${path}: not valid JSON`);
  }
}
