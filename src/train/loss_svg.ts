/**
 * A small self-contained SVG of the training (and validation) loss curves.
 *
 * @module
 */

/** One point of a curve. */
export interface CurvePoint {
  /** Step. */
  step: number;
  /** Loss value. */
  value: number;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Renders train/validation loss curves as an SVG document (640×360, axes, ticks, legend).
 *
 * @example
 * ```ts
 * import { lossSvg } from "./loss_svg.ts";
 * const svg = lossSvg([{ step: 1, value: 5 }, { step: 2, value: 4 }], [{ step: 2, value: 4.2 }]);
 * console.log(svg.startsWith("<svg")); // true
 * ```
 */
export function lossSvg(train: CurvePoint[], val: CurvePoint[] = [], title = "loss"): string {
  const W = 640, H = 360, left = 56, right = 16, top = 28, bottom = 40;
  const all = [...train, ...val].filter((p) => Number.isFinite(p.value));
  const maxStep = Math.max(1, ...all.map((p) => p.step));
  const minStep = Math.min(maxStep - 1, ...all.map((p) => p.step));
  let lo = Math.min(...all.map((p) => p.value));
  let hi = Math.max(...all.map((p) => p.value));
  if (!all.length) [lo, hi] = [0, 1];
  if (hi - lo < 1e-6) [lo, hi] = [lo - 0.5, hi + 0.5];
  const pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  const x = (s: number) => left + ((s - minStep) / (maxStep - minStep)) * (W - left - right);
  const y = (v: number) => top + (1 - (v - lo) / (hi - lo)) * (H - top - bottom);
  // Thin the train curve to at most ~600 points (keeps the file small for long runs).
  const stride = Math.max(1, Math.ceil(train.length / 600));
  const path = (pts: CurvePoint[], every: number) =>
    pts.filter((p, i) => Number.isFinite(p.value) && (i % every === 0 || i === pts.length - 1))
      .map((p, i) => `${i ? "L" : "M"}${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`)
      .join("");
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${esc(title)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = lo + ((hi - lo) * i) / 5;
    const yy = y(v).toFixed(1);
    parts.push(
      `<line x1="${left}" y1="${yy}" x2="${W - right}" y2="${yy}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${
        v.toFixed(2)
      }</text>`,
    );
    const s = minStep + ((maxStep - minStep) * i) / 5;
    parts.push(
      `<text x="${x(s).toFixed(1)}" y="${H - bottom + 16}" text-anchor="middle">${
        Math.round(s)
      }</text>`,
    );
  }
  parts.push(
    `<line x1="${left}" y1="${H - bottom}" x2="${W - right}" y2="${H - bottom}" stroke="#444"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${H - bottom}" stroke="#444"/>`,
    `<text x="${W / 2}" y="${H - 6}" text-anchor="middle">step</text>`,
  );
  if (train.length) {
    parts.push(
      `<path d="${path(train, stride)}" fill="none" stroke="#1f77b4" stroke-width="1.2"/>`,
    );
  }
  if (val.length) {
    parts.push(`<path d="${path(val, 1)}" fill="none" stroke="#d62728" stroke-width="2"/>`);
    for (const p of val) {
      if (Number.isFinite(p.value)) {
        parts.push(
          `<circle cx="${x(p.step).toFixed(1)}" cy="${
            y(p.value).toFixed(1)
          }" r="2.5" fill="#d62728"/>`,
        );
      }
    }
  }
  parts.push(
    `<rect x="${W - right - 130}" y="${
      top + 4
    }" width="124" height="38" fill="white" stroke="#ccc"/>`,
    `<line x1="${W - right - 122}" y1="${top + 16}" x2="${W - right - 102}" y2="${
      top + 16
    }" stroke="#1f77b4" stroke-width="2"/>`,
    `<text x="${W - right - 96}" y="${top + 19}">train loss</text>`,
    `<line x1="${W - right - 122}" y1="${top + 32}" x2="${W - right - 102}" y2="${
      top + 32
    }" stroke="#d62728" stroke-width="2"/>`,
    `<text x="${W - right - 96}" y="${top + 35}">validation loss</text>`,
    `</svg>`,
  );
  return parts.join("\n") + "\n";
}
