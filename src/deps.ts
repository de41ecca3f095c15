/**
 * The library's third-party dependencies, in one place.
 *
 * They are written here as full `npm:` specifiers rather than through the import map in
 * `deno.json`, because a program that imports `mod.ts` from a URL does not get this project's
 * import map: a bare name such as `"saxes"` would not resolve there. Switching a dependency to
 * another registry (JSR, say) is a one-line change in this file. The CLI's own dependencies
 * (`commander`) and those of the tests and benchmarks stay in the import map (which also
 * names `@huggingface/jinja`, at the same pinned version, for them).
 *
 * @module
 */
export { SaxesParser } from "npm:saxes@^6.0.0";
export { default as unbzip2Stream } from "npm:unbzip2-stream@^1.4.3";
export { Template as JinjaTemplate } from "npm:@huggingface/jinja@0.5.13";
export { stemmer as snowballPortuguese } from "npm:@orama/stemmers@3.1.18/portuguese";
export { stopwords as portugueseStopwords } from "npm:@orama/stopwords@3.1.18/portuguese";
export { extractText as pdfExtractText, getDocumentProxy as pdfDocument } from "npm:unpdf@1.8.1";
export { parseHTML } from "npm:linkedom@0.18.15";
export { Readability } from "npm:@mozilla/readability@0.6.0";
export { strToU8, unzipSync, zipSync } from "npm:fflate@0.8.3";
