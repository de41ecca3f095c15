/**
 * The chat page served at `/`: static files in `src/serve/page/` (HTML, CSS and a plain
 * JavaScript module; no build step, nothing from a CDN), embedded in the program through text
 * imports so that `deno compile` carries them.
 *
 * @module
 */
import html from "./page/index.html" with { type: "text" };
import css from "./page/style.css" with { type: "text" };
import js from "./page/app.js" with { type: "text" };

/** A static file of the page. */
export interface PageAsset {
  /** Its content type. */
  type: string;
  /** Its text. */
  body: string;
}

/**
 * The page's files by URL path.
 *
 * @example
 * ```ts
 * import { PAGE_ASSETS } from "./page.ts";
 * console.log(PAGE_ASSETS.get("/")?.type); // "text/html; charset=utf-8"
 * ```
 */
export const PAGE_ASSETS: ReadonlyMap<string, PageAsset> = new Map([
  ["/", { type: "text/html; charset=utf-8", body: html }],
  ["/page/style.css", { type: "text/css; charset=utf-8", body: css }],
  ["/page/app.js", { type: "text/javascript; charset=utf-8", body: js }],
]);
