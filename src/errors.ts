/**
 * The one error type for failures a user can cause and fix (bad input, missing files,
 * incompatible checkpoints…). The CLI prints its message on one line and exits with
 * {@link BenteviError.exitCode}; any other error is a bug and keeps its stack trace.
 *
 * @module
 */

/**
 * A user-facing failure: a clear one-line message and the process exit code to use.
 *
 * @example
 * ```ts
 * import { BenteviError } from "./errors.ts";
 * try {
 *   throw new BenteviError("corpus.txt: file not found");
 * } catch (e) {
 *   if (e instanceof BenteviError) console.log(e.message, e.exitCode);
 * }
 * ```
 */
export class BenteviError extends Error {
  /** Exit code the CLI uses when this error ends a command. */
  readonly exitCode: number;

  /** @param message one line, naming the file/option at fault and, where possible, the fix. */
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "BenteviError";
    this.exitCode = exitCode;
  }
}

/**
 * Turns a Deno file-system error into a {@link BenteviError} that names the path.
 *
 * @example
 * ```ts
 * import { fsError } from "./errors.ts";
 * try {
 *   await Deno.readTextFile("/no/such/file");
 * } catch (e) {
 *   console.log(fsError(e, "/no/such/file").message); // "/no/such/file: file not found"
 * }
 * ```
 */
export function fsError(error: unknown, path: string): Error {
  if (error instanceof BenteviError) return error;
  if (error instanceof Deno.errors.NotFound) return new BenteviError(`${path}: file not found`);
  if (error instanceof Deno.errors.PermissionDenied) {
    return new BenteviError(`${path}: permission denied`);
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return new BenteviError(`${path}: is a directory, expected a file`);
  }
  if (error instanceof Deno.errors.NotADirectory) {
    return new BenteviError(`${path}: a path component is not a directory`);
  }
  if (error instanceof Error && "code" in error) {
    return new BenteviError(`${path}: ${error.message}`);
  }
  return error instanceof Error ? error : new Error(String(error));
}
