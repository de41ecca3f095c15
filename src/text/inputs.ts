/**
 * Turning the paths a user gives (files and folders) into the list of input files every
 * corpus command reads: folders expanded recursively in a fixed order, hidden entries skipped.
 *
 * @module
 */
import { basename, join, relative } from "node:path";
import { BenteviError, fsError } from "../errors.ts";

/** An input file. */
export interface InputFile {
  /** Path as given, or found under a folder. */
  path: string;
  /** Size in bytes. */
  size: number;
  /**
   * Name it has under an output folder: the file name for a file given by itself, the path
   * inside the folder for a file found in one (`sub/b.txt`).
   */
  name: string;
}

/** Options of {@link listInputFiles}. */
export interface ListInputOptions {
  /**
   * Take only files whose names end with one of these (`[".txt", ".jsonl"]`, any case) from
   * folders; files named on their own are always taken. Default: every file.
   */
  extensions?: string[];
}

/**
 * Expands files and folders into input files: folders recursively, entries in name order,
 * hidden entries (`.name`) skipped, symbolic links to files followed (links to folders are
 * not, so a link loop cannot hang). A path given on its own is taken whatever it is (a FIFO
 * works). No input file at all is a {@link BenteviError}.
 *
 * @example
 * ```ts
 * import { listInputFiles } from "./inputs.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/sub`);
 * await Deno.writeTextFile(`${dir}/sub/b.txt`, "olá");
 * await Deno.writeTextFile(`${dir}/a.txt`, "x");
 * console.log((await listInputFiles([dir])).map((f) => `${f.name} ${f.size}`)); // ["a.txt 1", "sub/b.txt 4"]
 * ```
 */
export async function listInputFiles(
  inputs: string[],
  options: ListInputOptions = {},
): Promise<InputFile[]> {
  if (inputs.length === 0) throw new BenteviError("no inputs given: name files or folders");
  const exts = options.extensions?.map((e) => e.toLowerCase());
  const wanted = (name: string) => !exts || exts.some((e) => name.toLowerCase().endsWith(e));
  const out: InputFile[] = [];
  const stat = async (path: string, lstat = false) => {
    try {
      return lstat ? await Deno.lstat(path) : await Deno.stat(path);
    } catch (e) {
      throw fsError(e, path);
    }
  };
  const walk = async (root: string, dir: string) => {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(dir)) if (!e.name.startsWith(".")) names.push(e.name);
    } catch (e) {
      throw fsError(e, dir);
    }
    names.sort();
    for (const n of names) {
      const path = join(dir, n);
      let info = await stat(path, true);
      if (info.isSymlink) {
        try {
          info = await Deno.stat(path);
        } catch {
          continue; // a dangling link
        }
        if (info.isDirectory) continue;
      }
      if (info.isDirectory) await walk(root, path);
      else if (info.isFile && wanted(n)) {
        out.push({ path, size: info.size, name: relative(root, path) });
      }
    }
  };
  for (const input of inputs) {
    const info = await stat(input);
    if (info.isDirectory) await walk(input, input);
    else out.push({ path: input, size: info.size, name: basename(input) });
  }
  if (out.length === 0) {
    throw new BenteviError(
      `no input files in ${inputs.join(", ")}${exts ? ` (looked for ${exts.join(", ")})` : ""}`,
    );
  }
  return out;
}
