/**
 * Expansion of the small template syntax some WGSL files use to get straight-line code
 * (llvmpipe keeps named variables in registers but spills private arrays that loops index):
 * a line `//@REPEAT i < NAME: code` becomes `counts[NAME]` lines with `{i}` = 0, 1, ….
 *
 * @module
 */

/**
 * Expands every `//@REPEAT` line of `src`.
 *
 * @example
 * ```ts
 * import { expandRepeats } from "./template.ts";
 * console.log(expandRepeats("  //@REPEAT i < N: let x{i} = {i}u;", { N: 2 }));
 * // "  let x0 = 0u;\n  let x1 = 1u;"
 * ```
 */
export function expandRepeats(src: string, counts: Record<string, number>): string {
  // Nested markers (`//@REPEAT r < R: //@REPEAT i < N: …`) expand one level per pass.
  let out = src;
  for (let pass = 0; pass < 8 && out.includes("//@REPEAT"); pass++) out = expandOnce(out, counts);
  return out;
}

function expandOnce(src: string, counts: Record<string, number>): string {
  return src.replace(
    /^([ \t]*)\/\/@REPEAT (\w+) < (\w+): (.*)$/gm,
    (_all, indent: string, v: string, name: string, code: string) => {
      const n = counts[name];
      if (n === undefined) throw new Error(`template: no count for ${name}`);
      const lines: string[] = [];
      for (let i = 0; i < n; i++) lines.push(indent + code.replaceAll(`{${v}}`, String(i)));
      return lines.join("\n");
    },
  );
}
