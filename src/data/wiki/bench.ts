/**
 * The `wiki` benchmark: the whole dump → clean text pipeline (MB/s of XML, articles/s), in one
 * piece and with Workers when the dump is multistream, and the markup residue left in the
 * output, counted like the mwparserfromhell peer script counts it.
 *
 * @module
 */
import { countResidue, type ResidueCounts } from "./cleaner.ts";
import { convertWikiDump } from "./dump.ts";

/** Figures of {@link benchWiki}. */
export interface WikiBenchResult {
  file: string;
  xml_bytes: number;
  pages_seen: number;
  kept: number;
  /** One reader (bzip2 on a background thread when the shim is loaded). */
  mb_per_s: number;
  articles_per_s: number;
  /** With `workers` Workers (null when the dump is not multistream bzip2). */
  parallel_mb_per_s: number | null;
  workers: number;
  residue_lines: number;
  output_lines: number;
  residue_patterns: Record<string, number>;
  runs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Runs `wiki` on `file` into a temporary folder `runs` times (and as many with Workers).
 *
 * @example
 * ```ts ignore
 * import { benchWiki } from "./bench.ts";
 * console.log(await benchWiki("ptwiki.xml.bz2"));
 * ```
 */
export async function benchWiki(file: string, runs = 3): Promise<WikiBenchResult> {
  const out = await Deno.makeTempDir({ prefix: "bentevi-bench-wiki-" });
  const workers = Math.max(2, Math.min(8, navigator.hardwareConcurrency ?? 2));
  try {
    const seq: number[] = [];
    const par: number[] = [];
    let stats = await convertWikiDump(file, { output: `${out}/seq`, workers: 1 });
    for (let r = 0; r < runs; r++) {
      stats = await convertWikiDump(file, { output: `${out}/seq`, workers: 1 });
      seq.push(stats.seconds);
      const p = await convertWikiDump(file, { output: `${out}/par`, workers });
      if (p.workers > 1) par.push(p.seconds);
    }
    const residue: ResidueCounts = { lines: 0, linesWithResidue: 0, patterns: {} };
    for (const shard of stats.shards) {
      for (const line of (await Deno.readTextFile(shard)).split("\n")) {
        if (line) countResidue(JSON.parse(line).text, residue);
      }
    }
    const mbps = (s: number) => Number((stats.xmlBytes / 1e6 / s).toFixed(2));
    return {
      file,
      xml_bytes: stats.xmlBytes,
      pages_seen: stats.pagesSeen,
      kept: stats.kept,
      mb_per_s: mbps(median(seq)),
      articles_per_s: Number((stats.kept / median(seq)).toFixed(1)),
      parallel_mb_per_s: par.length ? mbps(median(par)) : null,
      workers,
      residue_lines: residue.linesWithResidue,
      output_lines: residue.lines,
      residue_patterns: residue.patterns,
      runs,
    };
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
}
