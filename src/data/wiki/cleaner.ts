/**
 * The wikitext cleaner: MediaWiki markup → paragraphs of prose.
 *
 * It removes comments, `<ref>`s and other non-prose tags, nested templates, tables, files,
 * images and categories (Portuguese and English spellings), magic words, headings, list
 * markers, bold/italic quotes, HTML tags and entities, external links and math; it turns
 * links into their labels and renders the few templates that stand for text inside a
 * sentence (`{{convert|10|km}}` → "10 km", `{{formatnum:1234}}`, `{{nowrap|…}}`, dates…).
 * A template it drops from the middle of a sentence ("A cidade tem {{X}} habitantes") takes
 * the whole sentence with it, so no broken sentences are left. Trailing sections such as
 * "Referências", "Ligações externas", "Bibliografia", "Ver também" and "Notas" are dropped.
 *
 * @module
 */

/** Marks a hole left by a dropped inline template; its sentence is removed at the end. */
const HOLE = "\u0001";

/** File, image and category namespaces (lowercase, without the colon). */
const MEDIA_NAMESPACES = new Set([
  "file",
  "image",
  "media",
  "ficheiro",
  "arquivo",
  "imagem",
  "mídia",
  "midia",
  "category",
  "categoria",
]);

/** Other namespaces whose links keep their label (they are not interwiki prefixes). */
const KNOWN_NAMESPACES = new Set([
  "anexo",
  "portal",
  "wikipédia",
  "wikipedia",
  "predefinição",
  "template",
  "ajuda",
  "help",
  "usuário",
  "usuária",
  "utilizador",
  "user",
  "special",
  "especial",
  "wikt",
  "wiktionary",
  "wikcionário",
  "s",
  "wikisource",
  "commons",
  "c",
  "w",
  "d",
  "wikidata",
  "q",
  "n",
  "b",
  "v",
  "voy",
  "mw",
  "meta",
  "m",
  "livro",
  "módulo",
  "module",
  "tópico",
]);

/** Section titles whose section (and what follows at the same level) is dropped. */
const STOP_SECTIONS = new Set([
  "referências",
  "referencias",
  "referência",
  "notas",
  "nota",
  "notas e referências",
  "referências e notas",
  "notas de rodapé",
  "ligações externas",
  "ligação externa",
  "links externos",
  "link externo",
  "bibliografia",
  "ver também",
  "veja também",
  "leitura adicional",
  "leituras adicionais",
  "leitura complementar",
  "fontes",
  "referências bibliográficas",
  "galeria",
  "references",
  "notes",
  "footnotes",
  "external links",
  "see also",
  "further reading",
  "bibliography",
  "sources",
  "citations",
  "notes and references",
  "gallery",
]);

/** Templates that render as nothing and never stand for a word in a sentence. */
const SILENT_TEMPLATES = new Set([
  "carece de fontes",
  "carece de fontes2",
  "citação necessária",
  "fact",
  "citation needed",
  "cn",
  "sfn",
  "efn",
  "refn",
  "nota",
  "notadr",
  "harvnb",
  "harv",
  "rp",
  "dn",
  "clarify",
  "when",
  "who",
  "by whom",
  "which",
  "dúvida",
  "esclarecer",
  "quando",
  "quem",
  "reflist",
  "referências",
  "notas",
  "-",
  "clear",
  "clear-left",
  "limpar",
  "nota de rodapé",
  "wikt",
  "commons",
  "portal",
  "esboço",
  "stub",
  "dead link",
  "ligação inativa",
  "ver também",
  "flagicon",
  "bandeira",
  "bandeirinha",
]);

const HTML_ENTITIES: Record<string, string> = {
  nbsp: " ",
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  ndash: "–",
  mdash: "—",
  minus: "−",
  hellip: "…",
  laquo: "«",
  raquo: "»",
  lsquo: "‘",
  rsquo: "’",
  ldquo: "“",
  rdquo: "”",
  times: "×",
  divide: "÷",
  deg: "°",
  plusmn: "±",
  middot: "·",
  bull: "•",
  copy: "©",
  reg: "®",
  trade: "™",
  euro: "€",
  pound: "£",
  cent: "¢",
  yen: "¥",
  sect: "§",
  para: "¶",
  ordm: "º",
  ordf: "ª",
  frac12: "½",
  frac14: "¼",
  frac34: "¾",
  sup1: "¹",
  sup2: "²",
  sup3: "³",
  micro: "µ",
  thinsp: " ",
  ensp: " ",
  emsp: " ",
  zwj: "",
  zwnj: "",
  shy: "",
  lrm: "",
  rlm: "",
  prime: "′",
  Prime: "″",
  larr: "←",
  rarr: "→",
  harr: "↔",
  uarr: "↑",
  darr: "↓",
  alpha: "α",
  beta: "β",
  gamma: "γ",
  delta: "δ",
  pi: "π",
  mu: "μ",
  sigma: "σ",
  omega: "ω",
  Omega: "Ω",
  infin: "∞",
  le: "≤",
  ge: "≥",
  ne: "≠",
  asymp: "≈",
};

const MONTHS_PT = [
  "janeiro",
  "fevereiro",
  "março",
  "abril",
  "maio",
  "junho",
  "julho",
  "agosto",
  "setembro",
  "outubro",
  "novembro",
  "dezembro",
];

const UNITS: Record<string, string> = {
  km2: "km²",
  "km²": "km²",
  m2: "m²",
  sqkm: "km²",
  sqmi: "mi²",
  sqft: "ft²",
  ft2: "ft²",
  m3: "m³",
  km3: "km³",
  c: "°C",
  "°c": "°C",
  f: "°F",
  "°f": "°F",
  kmh: "km/h",
  "km/h": "km/h",
  mph: "mph",
  "m/s": "m/s",
  kmi: "km",
  nmi: "milhas náuticas",
  "ft/s": "ft/s",
};

const RANGE_WORDS: Record<string, string> = {
  "to": "a",
  "a": "a",
  "-": "–",
  "–": "–",
  "and": "e",
  "e": "e",
  "or": "ou",
  "ou": "ou",
  "by": "×",
  "x": "×",
  "×": "×",
  "+/-": "±",
  "±": "±",
};

/** Index just past the `close` pair matching the `open` pair at `start`, or -1. */
function findClose(s: string, start: number, open: number, close: number): number {
  let depth = 0;
  const n = s.length - 1;
  for (let k = start; k < n;) {
    const c = s.charCodeAt(k);
    if (c === open && s.charCodeAt(k + 1) === open) {
      depth++;
      k += 2;
    } else if (c === close && s.charCodeAt(k + 1) === close) {
      depth--;
      k += 2;
      if (depth === 0) return k;
    } else k++;
  }
  return -1;
}

/** Splits on `|` at nesting depth 0 (outside `{{…}}` and `[[…]]`). */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let last = 0;
  for (let k = 0; k < s.length; k++) {
    const c = s[k];
    if ((c === "{" || c === "[") && s[k + 1] === c) {
      depth++;
      k++;
    } else if ((c === "}" || c === "]") && s[k + 1] === c) {
      depth--;
      k++;
    } else if (c === "|" && depth <= 0) {
      parts.push(s.slice(last, k));
      last = k + 1;
    }
  }
  parts.push(s.slice(last));
  return parts;
}

function positional(parts: string[]): string[] {
  return parts.slice(1).filter((p) => !/^\s*[\w -]+\s*=/.test(p)).map((p) => p.trim());
}

function named(parts: string[], key: string): string | undefined {
  for (const p of parts.slice(1)) {
    const m = /^\s*([\w -]+?)\s*=(.*)$/s.exec(p);
    if (m && m[1].toLowerCase() === key) return m[2].trim();
  }
  return undefined;
}

function formatDate(y?: string, m?: string, d?: string): string | null {
  if (!y || !/^\d{1,4}$/.test(y)) return null;
  const month = m && /^\d{1,2}$/.test(m) ? MONTHS_PT[Number(m) - 1] : undefined;
  if (!month) return y;
  if (d && /^\d{1,2}$/.test(d)) return `${Number(d)} de ${month} de ${y}`;
  return `${month} de ${y}`;
}

function renderConvert(args: string[]): string | null {
  if (args.length === 0 || !/\d/.test(args[0])) return null;
  const unit = (u: string | undefined) => (u ? UNITS[u.toLowerCase()] ?? u : "");
  if (args.length >= 3 && RANGE_WORDS[args[1].toLowerCase()] !== undefined) {
    const join = RANGE_WORDS[args[1].toLowerCase()];
    const sep = join === "–" ? "–" : ` ${join} `;
    return `${args[0]}${sep}${args[2]} ${unit(args[3])}`.trim();
  }
  return `${args[0]} ${unit(args[1])}`.trim();
}

/** Renders one template's inner text (`name|args`); null when it is dropped. */
/** Title of the page being cleaned (for `{{PAGENAME}}`); set by {@link cleanWikitext}. */
let pageTitle = "";

function renderTemplate(inner: string): string | null {
  const parts = splitTopLevel(inner);
  let rawName = parts[0].trim();
  if (/^(PAGENAME|NOMEDAPÁGINA|NOMEDAPAGINA|PAGENAMEE)$/i.test(rawName)) {
    return pageTitle ? pageTitle.replace(/^[^:]*:/, "") : null;
  }
  // magic words and parser functions: {{formatnum:123}}, {{#if:…}}, {{DEFAULTSORT:…}}
  const colon = rawName.indexOf(":");
  if (colon > 0) {
    const head = rawName.slice(0, colon).toLowerCase().trim();
    const rest = rawName.slice(colon + 1);
    if (head === "formatnum" || head === "lc" || head === "uc" || head === "ucfirst") {
      return cleanInline(rest);
    }
    if (head === "predefinição" || head === "template" || head === "msg") {
      rawName = rest.trim();
    } else return null;
  }
  const name = rawName.replace(/_/g, " ").toLowerCase();
  const args = positional(parts);
  switch (name) {
    case "!":
      return "|";
    case "=":
      return "=";
    case "·":
    case "•":
    case "dot":
      return " · ";
    case "ndash":
    case "–":
      return "–";
    case "mdash":
    case "—":
      return "—";
    case "space":
    case "spaces":
    case "nbsp":
    case "sp":
      return " ";
    case "'":
      return "'";
    case "convert":
    case "converter":
    case "cvt":
    case "conv":
    case "conversão":
      return renderConvert(args.map(cleanInline));
    case "formatnum":
    case "fmtn":
    case "num":
    case "nowrap":
    case "nobr":
    case "small":
    case "smaller":
    case "big":
    case "sc":
    case "smallcaps":
    case "abbr":
    case "em":
    case "strong":
    case "mvar":
    case "nts":
    case "ntsh":
    case "unicode":
    case "ill":
    case "interlanguage link":
    case "link-interwiki":
    case "versalete":
    case "sem negrito":
    case "nihongo":
    case "transl":
      return args[0] !== undefined ? cleanInline(args[0]) : null;
    case "pipe":
      return "|";
    case "km2":
    case "km²":
      return "km²";
    case "m2":
    case "m²":
      return "m²";
    case "hab/km2":
    case "hab/km²":
      return "hab./km²";
    case "keypress":
      return args.length ? args.map(cleanInline).join("+") : null;
    case "angbr":
      return args[0] !== undefined ? `⟨${cleanInline(args[0])}⟩` : null;
    case "chem":
      return args.length ? args.map(cleanInline).join("") : null;
    case "sic":
      return args[0] !== undefined ? cleanInline(args[0]) : "";
    case "us$":
      return args[0] !== undefined ? `US$${cleanInline(args[0])}` : "US$";
    case "iast":
    case "ipa":
      return args[0] !== undefined ? cleanInline(args[0]) : null;
    case "link":
      return args.length >= 2 ? cleanInline(args[args.length - 1]) : null;
    case "flag":
    case "flagcountry":
    case "band":
      return args[0] !== undefined ? cleanInline(args[args.length - 1]) : null;
    case "lang":
    case "língua":
    case "lingua":
      return args.length ? cleanInline(args[args.length - 1]) : null;
    case "sort":
    case "sortkey":
      return args.length ? cleanInline(args[args.length - 1]) : null;
    case "sortname":
      return args.length >= 2 ? `${cleanInline(args[0])} ${cleanInline(args[1])}` : null;
    case "val": {
      if (!args[0]) return null;
      const u = named(parts, "u") ?? named(parts, "ul");
      return u ? `${args[0]} ${UNITS[u.toLowerCase()] ?? u}` : args[0];
    }
    case "dtlink":
    case "dni":
    case "dnibr":
    case "dtlink2":
    case "data":
    case "date":
    case "nascimento":
    case "morte":
    case "data de nascimento":
    case "data de morte":
    case "data de nascimento e idade":
    case "birth date":
    case "death date":
    case "birth date and age":
    case "death date and age":
    case "start date":
    case "end date":
    case "dts": {
      const nums = args.filter((a) => /^\d{1,4}$/.test(a));
      // Portuguese templates take day|month|year; English ones year|month|day.
      const dmy = name === "dtlink" || name === "dni" || name === "dnibr" || name === "dtlink2" ||
        name === "data" || name === "nascimento" || name === "morte" || name.startsWith("data de");
      return dmy ? formatDate(nums[2], nums[1], nums[0]) : formatDate(nums[0], nums[1], nums[2]);
    }
    case "citação":
    case "quote":
    case "cquote":
    case "blockquote":
    case "quotation":
    case "citação2": {
      const text = named(parts, "text") ?? named(parts, "texto") ?? args[0];
      return text ? `\n\n${cleanInline(text)}\n\n` : null;
    }
    default:
      if (name.startsWith("lang-") || name.startsWith("ipa-")) {
        return args[0] !== undefined ? cleanInline(args[0]) : null;
      }
      return SILENT_TEMPLATES.has(name) ? "" : null;
  }
}

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && /[\p{L}\p{N}]/u.test(c);
}

/** Replaces templates; a dropped template inside a sentence leaves a {@link HOLE}. */
function replaceTemplates(s: string): string {
  if (s.indexOf("{{") < 0) return s;
  let out = "";
  let i = 0;
  for (;;) {
    const j = s.indexOf("{{", i);
    if (j < 0) {
      out += s.slice(i);
      return out;
    }
    out += s.slice(i, j);
    const end = findClose(s, j, 123, 125);
    if (end < 0) {
      // unbalanced: drop the opening braces and go on
      i = j + 2;
      continue;
    }
    const rendered = renderTemplate(s.slice(j + 2, end - 2));
    if (rendered !== null) {
      out += rendered;
    } else {
      // A hole when the template sat between words on one line: "tem {{X}} habitantes".
      const before = out.length >= 2 ? out[out.length - 1] : "";
      const prev = out[out.length - 2];
      const after = s[end];
      const next = s[end + 1];
      const inSentence = before === " " && isWordChar(prev) &&
        ((after === " " && isWordChar(next)) || (after !== undefined && ".,;:".includes(after)));
      // …or began a sentence that goes on in lower case: "{{X}} é uma cidade".
      const startsSentence =
        (out.length === 0 || before === "\n" || /[.!?] $/.test(out.slice(-2))) &&
        after === " " && next !== undefined && /\p{Ll}/u.test(next);
      if (inSentence || startsSentence) out += HOLE;
    }
    i = end;
  }
}

function linkTarget(inner: string): { ns: string; rest: string; leadingColon: boolean } {
  let t = inner;
  const leadingColon = t.startsWith(":");
  if (leadingColon) t = t.slice(1);
  const colon = t.indexOf(":");
  const pipe = t.indexOf("|");
  if (colon > 0 && (pipe < 0 || colon < pipe)) {
    return { ns: t.slice(0, colon).trim().toLowerCase(), rest: t.slice(colon + 1), leadingColon };
  }
  return { ns: "", rest: t, leadingColon };
}

/** Replaces `[[…]]` links by their labels; drops files, images, categories and interwikis. */
function replaceLinks(s: string): string {
  if (s.indexOf("[[") < 0) return s;
  let out = "";
  let i = 0;
  for (;;) {
    const j = s.indexOf("[[", i);
    if (j < 0) {
      out += s.slice(i);
      return out;
    }
    out += s.slice(i, j);
    const end = findClose(s, j, 91, 93);
    if (end < 0) {
      i = j + 2;
      continue;
    }
    const inner = s.slice(j + 2, end - 2);
    i = end;
    const { ns, leadingColon } = linkTarget(inner);
    if (ns) {
      if (MEDIA_NAMESPACES.has(ns) && !leadingColon) continue;
      if (
        !KNOWN_NAMESPACES.has(ns) && !MEDIA_NAMESPACES.has(ns) && /^[a-z]{2,3}(-[a-z]+)*$/.test(ns)
      ) {
        if (!leadingColon) continue; // interwiki: [[en:Berlin]]
      }
    }
    const parts = splitTopLevel(inner);
    let label: string;
    if (parts.length > 1) {
      label = parts.slice(1).join("|");
      if (label.trim() === "") {
        // pipe trick: [[Foo (bar)|]] → Foo
        label = linkTarget(parts[0]).rest.replace(/\s*\(.*\)\s*$/, "");
      }
    } else {
      label = parts[0].replace(/^:/, "");
      if (label.includes("#")) label = label.replace(/#/, " ").trim();
    }
    out += replaceLinks(label);
  }
}

/** Drops `{| … |}` tables (nested), line by line. */
function dropTables(s: string): string {
  if (s.indexOf("{|") < 0) return s;
  const lines = s.split("\n");
  const kept: string[] = [];
  let depth = 0;
  for (const line of lines) {
    const t = line.trimStart();
    if (t.startsWith("{|")) {
      depth++;
      continue;
    }
    if (depth > 0) {
      if (t.startsWith("|}")) depth--;
      continue;
    }
    kept.push(line);
  }
  return kept.join("\n");
}

const DROP_TAGS =
  "ref|math|chem|ce|gallery|galeria|timeline|syntaxhighlight|source|score|graph|imagemap|templatedata|templatestyles|mapframe|maplink|hiero|categorytree|inputbox|includeonly|noinclude|references|pre";
const DROP_PAIRED = new RegExp(`<(${DROP_TAGS})\\b[^>]*?(?<!/)>[\\s\\S]*?<\\/\\1\\s*>`, "gi");
const DROP_SELF = new RegExp(`<(${DROP_TAGS})\\b[^>]*\\/>`, "gi");
const DROP_OPEN = new RegExp(`<\\/?(${DROP_TAGS})\\b[^>]*>`, "gi");

function decodeEntities(s: string): string {
  if (s.indexOf("&") < 0) return s;
  return s.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,8});/g, (m, e) => {
    if (e[0] === "#") {
      const code = e[1] === "x" || e[1] === "X"
        ? parseInt(e.slice(2), 16)
        : parseInt(e.slice(1), 10);
      if (code === 0xa0) return " ";
      return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)
        ? String.fromCodePoint(code)
        : "";
    }
    return HTML_ENTITIES[e] ?? m;
  });
}

/** Cleans a short inline fragment (a template argument or a link label). */
function cleanInline(s: string): string {
  let t = replaceTemplates(s);
  t = replaceLinks(t);
  t = t.replace(/'{2,}/g, "");
  t = t.replace(/<\/?[a-zA-Z][^>]*>/g, "");
  return decodeEntities(t).replace(/\s+/g, " ").trim();
}

function headingTitle(line: string): { level: number; title: string } | null {
  const m = /^(={1,6})\s*(.*?)\s*\1\s*$/.exec(line);
  if (!m) return null;
  return { level: m[1].length, title: cleanInline(m[2]).replace(/[:.]$/, "") };
}

/** Removes sentences that contain a {@link HOLE}. */
function dropHoleSentences(p: string): string {
  if (p.indexOf(HOLE) < 0) return p;
  // Sentences end at . ! ? … followed by a space (or the end).
  const sentences = p.match(/[^.!?…]*(?:[.!?…]+(?:["”»)]*)(?=\s|$)|$)\s*/g) ?? [p];
  return sentences.filter((s) => s.indexOf(HOLE) < 0).join("").trim();
}

function tidy(p: string): string {
  // each pass only when its trigger character is present (most lines need none)
  let t = /[\t\u00a0\u2009\u200a]| {2}/.test(p) ? p.replace(/[ \t\u00a0\u2009\u200a]+/g, " ") : p;
  if (t.indexOf("(") >= 0) t = t.replace(/\(\s*[,;:–-]*\s*\)/g, "").replace(/\(\s+/g, "(");
  if (t.indexOf("[") >= 0) t = t.replace(/\[\s*\]/g, "").replace(/\[\s+/g, "[");
  if (/\s[,.;:!?)\]]/.test(t)) t = t.replace(/\s+([,.;:!?)\]])/g, "$1");
  if (t.indexOf(",") >= 0) t = t.replace(/,\s*([,.;])/g, "$1");
  if (t.indexOf("  ") >= 0) t = t.replace(/ {2,}/g, " ");
  return t.trim();
}

/**
 * Turns one article's wikitext into clean prose: paragraphs separated by a blank line
 * (list items one per line). Returns "" when nothing readable is left. `title` renders
 * `{{PAGENAME}}`.
 *
 * @example
 * ```ts
 * import { cleanWikitext } from "./cleaner.ts";
 * const text = cleanWikitext(
 *   "'''Lagoa Azul''' é uma [[cidade|vila]] com {{formatnum:12345}} habitantes.<ref>Censo</ref>\n" +
 *     "[[Categoria:Vilas]]",
 * );
 * console.log(text); // "Lagoa Azul é uma vila com 12345 habitantes."
 * ```
 */
export function cleanWikitext(wikitext: string, options: { title?: string } = {}): string {
  pageTitle = options.title ?? "";
  let s = wikitext.indexOf("\r") >= 0 ? wikitext.replace(/\r\n?/g, "\n") : wikitext;
  const hasTag = s.indexOf("<") >= 0;
  if (hasTag) {
    if (s.indexOf("<!--") >= 0) s = s.replace(/<!--[\s\S]*?(?:-->|$)/g, "");
    // A formula inside a sentence cannot be put into words: the sentence goes with it.
    s = s.replace(/<(math|chem|ce)\b[^>]*?(?<!\/)>[\s\S]*?<\/\1\s*>/gi, HOLE);
    s = s.replace(DROP_SELF, "").replace(DROP_PAIRED, "").replace(DROP_OPEN, "");
    if (/<\/?nowiki/i.test(s)) s = s.replace(/<nowiki\s*\/>/gi, "").replace(/<\/?nowiki\s*>/gi, "");
  }
  s = replaceTemplates(s);
  s = dropTables(s);
  s = replaceLinks(s);
  if (s.indexOf("[") >= 0) {
    // external links: [http://x label] → label
    s = s.replace(/\[(?:https?:|ftp:|mailto:|\/\/)[^\s\]]*\s*([^\]\n]*)\]/gi, "$1");
  }
  if (s.indexOf("://") >= 0) s = s.replace(/\b(?:https?|ftp):\/\/[^\s<>\]|]+/gi, ""); // bare URLs
  if (s.indexOf("__") >= 0) s = s.replace(/__[A-Z]+__/g, "");
  if (hasTag) {
    s = s.replace(/<br\s*\/?>/gi, " ");
    s = s.replace(/<\/?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?\/?>/g, "");
  }
  if (s.indexOf("''") >= 0) s = s.replace(/'{2,}/g, "");
  s = decodeEntities(s);

  const paragraphs: string[] = [];
  let current: string[] = [];
  let list: string[] = [];
  let skipLevel = 0; // inside a dropped section of this level (0 = not skipping)
  const flush = () => {
    if (current.length) paragraphs.push(current.join(" "));
    if (list.length) paragraphs.push(list.join("\n"));
    current = [];
    list = [];
  };
  for (const raw of s.split("\n")) {
    const line = raw.trim();
    const heading = line.startsWith("=") ? headingTitle(line) : null;
    if (heading) {
      flush();
      if (skipLevel && heading.level > skipLevel) continue;
      skipLevel = STOP_SECTIONS.has(heading.title.toLowerCase()) ? heading.level : 0;
      continue;
    }
    if (skipLevel) continue;
    if (line === "") {
      flush();
      continue;
    }
    const c = line[0];
    if (c === "|" || c === "!" || c === "{" || c === "}") continue; // table/template leftovers
    if (c === "*" || c === "#" || c === ";" || c === ":") {
      const item = tidy(line.replace(/^[*#;:]+\s*/, ""));
      if (current.length) {
        paragraphs.push(current.join(" "));
        current = [];
      }
      if (item) list.push(item);
      continue;
    }
    if (list.length) {
      paragraphs.push(list.join("\n"));
      list = [];
    }
    current.push(line);
  }
  flush();
  const out: string[] = [];
  for (const p of paragraphs) {
    const clean = p.split("\n").map((l) => tidy(dropHoleSentences(l))).filter((l) =>
      /\p{L}/u.test(l) && l.indexOf(HOLE) < 0
    ).join("\n");
    if (clean) out.push(clean);
  }
  return out.join("\n\n");
}

/** Whether wikitext is a redirect (`#REDIRECT`, `#REDIRECIONAMENTO`…). */
export function isRedirectText(wikitext: string): boolean {
  return /^\s*#(redirect|redirecionamento|redireccionamento)\b/i.test(wikitext);
}

/** Markup-residue patterns counted per output line (the same as the mwparserfromhell peer). */
export const RESIDUE_PATTERNS = ["{{", "}}", "[[", "]]", "<ref", "{|", "|}"] as const;
/** Image-option leftovers counted separately. */
export const RESIDUE_EXTRA_PATTERNS = ["thumb|", "px|", "miniatura|"] as const;

/** Counts of output lines containing each residue pattern. */
export interface ResidueCounts {
  /** Lines examined. */
  lines: number;
  /** Lines containing at least one pattern (main or extra). */
  linesWithResidue: number;
  /** Per pattern. */
  patterns: Record<string, number>;
}

/**
 * Counts markup residue in cleaned text, line by line (the metric the mwparserfromhell peer
 * script reports).
 *
 * @example
 * ```ts
 * import { countResidue } from "./cleaner.ts";
 * console.log(countResidue("ok\n{{x}}\n").linesWithResidue); // 1
 * ```
 */
export function countResidue(text: string, into?: ResidueCounts): ResidueCounts {
  const r = into ?? { lines: 0, linesWithResidue: 0, patterns: {} };
  for (const line of text.split("\n")) {
    r.lines++;
    let any = false;
    for (const p of [...RESIDUE_PATTERNS, ...RESIDUE_EXTRA_PATTERNS]) {
      if (line.includes(p)) {
        r.patterns[p] = (r.patterns[p] ?? 0) + 1;
        any = true;
      }
    }
    if (any) r.linesWithResidue++;
  }
  return r;
}
