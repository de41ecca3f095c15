/**
 * One small progress interface for every long job (tokenizer training, dump reading,
 * dataset building, training). Core code reports through {@link Progress}; the CLI decides
 * how it looks: a redrawn bar on a terminal, a plain line every few seconds when piped.
 *
 * @module
 */

/** Receives progress reports from a long-running job. */
export interface Progress {
  /** A new phase begins; `total` (in `unit`s) enables a percentage and an ETA. */
  start(label: string, total?: number, unit?: string): void;
  /** `done` units are finished so far; `info` is a short free-form suffix (loss, MB/s…). */
  update(done: number, info?: string): void;
  /** The phase ends; `summary` is printed once. */
  end(summary?: string): void;
}

/**
 * A progress sink that prints nothing (the library default).
 *
 * @example
 * ```ts
 * import { silentProgress } from "./progress.ts";
 * silentProgress.start("work", 10);
 * silentProgress.update(5);
 * silentProgress.end();
 * ```
 */
export const silentProgress: Progress = {
  start() {},
  update() {},
  end() {},
};

/** Options for {@link consoleProgress}. */
export interface ConsoleProgressOptions {
  /** Draw a redrawn bar (default: when stderr is a terminal). */
  tty?: boolean;
  /** Seconds between plain lines when not drawing a bar (default 2). */
  intervalSeconds?: number;
  /** Where to write (default: stderr). */
  write?: (text: string) => void;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "?";
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * A progress sink for the terminal: a bar with percentage, rate and ETA on a TTY,
 * plain lines at most every `intervalSeconds` otherwise. Writes to stderr so that
 * stdout stays clean for results (JSON, ids, text).
 *
 * @example
 * ```ts
 * import { consoleProgress } from "./progress.ts";
 * const p = consoleProgress({ tty: false, write: () => {} });
 * p.start("counting", 3, "items");
 * for (let i = 1; i <= 3; i++) p.update(i);
 * p.end("3 items");
 * ```
 */
export function consoleProgress(options: ConsoleProgressOptions = {}): Progress {
  const encoder = new TextEncoder();
  const write = options.write ??
    ((text: string) => {
      Deno.stderr.writeSync(encoder.encode(text));
    });
  const tty = options.tty ?? Deno.stderr.isTerminal();
  const interval = (options.intervalSeconds ?? 2) * 1000;
  let label = "";
  let total: number | undefined;
  let unit = "";
  let t0 = 0;
  let last = 0;
  let drawn = false;

  const render = (done: number, info?: string): string => {
    const elapsed = (performance.now() - t0) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const rateText = `${rate >= 100 ? rate.toFixed(0) : rate.toPrecision(3)} ${unit || "it"}/s`;
    const parts = [label];
    if (total && total > 0) {
      const frac = Math.min(1, done / total);
      if (tty) {
        const width = 24;
        const full = Math.round(frac * width);
        parts.push(`[${"#".repeat(full)}${"-".repeat(width - full)}]`);
      }
      parts.push(`${(frac * 100).toFixed(1)}%`, `${done}/${total}`);
      parts.push(rateText, `ETA ${formatSeconds(rate > 0 ? (total - done) / rate : NaN)}`);
    } else {
      parts.push(`${done} ${unit}`.trim(), rateText);
    }
    if (info) parts.push(info);
    return parts.join("  ");
  };

  return {
    start(l, t, u) {
      label = l;
      total = t;
      unit = u ?? "";
      t0 = performance.now();
      // A terminal bar draws at once; plain lines wait one interval from the start, so a short
      // job (or one that fails early) prints none however long the process took to get here.
      last = tty ? 0 : t0;
      drawn = false;
    },
    update(done, info) {
      const now = performance.now();
      if (tty) {
        if (now - last < 100) return;
        last = now;
        write(`\r\x1b[K${render(done, info)}`);
        drawn = true;
      } else if (now - last >= interval) {
        last = now;
        write(`${render(done, info)}\n`);
      }
    },
    end(summary) {
      if (tty && drawn) write("\r\x1b[K");
      const elapsed = (performance.now() - t0) / 1000;
      write(`${label}: ${summary ?? "done"} (${formatSeconds(elapsed)})\n`);
    },
  };
}
