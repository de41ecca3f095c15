/**
 * File-system helpers shared across modules.
 *
 * @module
 */
import { fsError } from "../errors.ts";

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
