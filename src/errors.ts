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
  const phrase = osErrorPhrase(error);
  if (phrase) return new BenteviError(`${path}: ${phrase}`);
  if (error instanceof Error && "code" in error) {
    return new BenteviError(`${path}: ${error.message}`);
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** What the OS errors a write can meet mean, in the words Bentevi prints. */
const WRITE_ERROR_PHRASES: Record<string, string> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EFBIG: "file too large",
  EIO: "input/output error",
};

/**
 * The phrase of a write-class OS error (`no space left on device`, `read-only file system`,
 * `permission denied`…), or `undefined` for any other error.
 *
 * @example
 * ```ts
 * import { osErrorPhrase } from "./errors.ts";
 * console.log(osErrorPhrase(Object.assign(new Error("x"), { code: "EROFS" }))); // "read-only file system"
 * ```
 */
export function osErrorPhrase(error: unknown): string | undefined {
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  const code = error instanceof Error && "code" in error ? (error as { code: unknown }).code : "";
  return typeof code === "string" ? WRITE_ERROR_PHRASES[code] : undefined;
}

/**
 * Turns an OS error met while writing `path` (no space left, read-only file system,
 * permission denied, quota, I/O error…) into a one-line {@link BenteviError} that names the
 * final path — not the temporary file being written — and what happened; so does any other
 * OS error (in its own words). Errors that are not OS errors are returned unchanged.
 *
 * @example
 * ```ts
 * import { writeError } from "./errors.ts";
 * const full = Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
 * console.log(writeError(full, "out/tokenizer.json").message);
 * // "out/tokenizer.json: cannot write (no space left on device)"
 * ```
 */
export function writeError(error: unknown, path: string): Error {
  if (error instanceof BenteviError) return error;
  let phrase = osErrorPhrase(error);
  if (!phrase && error instanceof Error && typeof (error as { code?: unknown }).code === "string") {
    // Another OS error: its own words, without the "(os error N): op 'temp path'" tail.
    phrase = error.message.replace(/ \(os error \d+\).*$/s, "").toLowerCase();
  }
  if (phrase) return new BenteviError(`${path}: cannot write (${phrase})`);
  return error instanceof Error ? error : new Error(String(error));
}
