/**
 * Small helpers every CLI command group shares: option parsers that reject bad values with
 * a clear message, and JSON/text output.
 *
 * @module
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { parseEncoding, type TextEncoding } from "../text/encoding.ts";

/**
 * Returns a commander option parser for an integer within `[min, max]`.
 *
 * @example
 * ```ts
 * import { intOption } from "./common.ts";
 * console.log(intOption(1)("42")); // 42
 * ```
 */
export function intOption(min = -Infinity, max = Infinity): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
    if (n < min || n > max) {
      throw new InvalidArgumentError(`must be between ${min} and ${max}, got ${n}`);
    }
    return n;
  };
}

/**
 * Returns a commander option parser for a finite number within `[min, max]`.
 *
 * @example
 * ```ts
 * import { floatOption } from "./common.ts";
 * console.log(floatOption(0, 1)("0.9")); // 0.9
 * ```
 */
export function floatOption(min = -Infinity, max = Infinity): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) {
      throw new InvalidArgumentError(`expected a number, got "${value}"`);
    }
    if (n < min || n > max) {
      throw new InvalidArgumentError(`must be between ${min} and ${max}, got ${n}`);
    }
    return n;
  };
}

/**
 * Commander option parser for `--encoding`: the names `parseEncoding` accepts.
 *
 * @example
 * ```ts
 * import { encodingOption } from "./common.ts";
 * console.log(encodingOption("ISO-8859-1")); // "latin1"
 * ```
 */
export function encodingOption(value: string): TextEncoding {
  try {
    return parseEncoding(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** The `--encoding` help text. */
export const ENCODING_HELP = "input encoding: utf-8, latin1 (ISO-8859-1) or windows-1252";

/**
 * Prints a value as one line of JSON on stdout.
 *
 * @example
 * ```ts
 * import { printJson } from "./common.ts";
 * printJson({ ok: true });
 * ```
 */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value));
}
