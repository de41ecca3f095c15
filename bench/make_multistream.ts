/**
 * Builds a multistream `.xml.bz2` dump for the parallel-reader benchmark: the `<siteinfo>`
 * header, then 100 pages per bzip2 stream (the layout of Wikipedia's `pages-articles-multistream`
 * files), then the closing tag. Two ways to fill it:
 *
 * - `make_multistream.ts DUMP.xml.bz2 OUT.xml.bz2 [REPEAT]` — the pages of one single-stream
 *   dump repeated `REPEAT` times with fresh ids (the gensim enwiki sample: 206 long articles,
 *   ~30 KB each, so a 100-page stream holds ~3 MB of XML);
 * - `make_multistream.ts --ptwiki MB OUT.xml.bz2 DUMP.xml.bz2…` — a dump shaped like ptwiki's
 *   `pages-articles-multistream`: `MB` megabytes of XML in pages whose mix follows the real
 *   dump (≈40 % redirects `#REDIRECIONAMENTO`, ≈12 % other namespaces — categories,
 *   templates, project and file pages — and ≈48 % articles whose sizes run from one-paragraph
 *   stubs to whole long articles, median ≈3 KB of wikitext), all their text cut from the
 *   real pages of the given dumps at section boundaries (so the markup is real: infoboxes,
 *   `<ref>`s, tables, links, files) with Portuguese page furniture (`<siteinfo>` of ptwiki,
 *   namespace names). About 4 KB of XML per page and 100 pages per stream, as in ptwiki,
 *   so a stream holds ~0.4 MB of XML. Seeded: the same arguments give the same file.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-run bench/make_multistream.ts --ptwiki 60 \
 *   /tmp/ptlike.xml.bz2 ../shared/data/wiki/dbpedia-minidump-pt-wiki.xml.bz2 \
 *   ../shared/data/wiki/gensim-enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2 \
 *   ../shared/data/wiki/dbpedia-minidump-en-wiki.xml.bz2 ../shared/data/wiki/gensim-enwiki-table-markup.xml.bz2
 * deno run -A bench/wiki_workers.ts /tmp/ptlike.xml.bz2 --rounds 3
 * ```
 *
 * Needs the `bzip2` command (Debian package `bzip2`).
 *
 * @module
 */

async function bzip2(args: string[], input: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command("bzip2", { args, stdin: "piped", stdout: "piped" }).spawn();
  const writer = child.stdin.getWriter();
  const [out] = await Promise.all([
    child.output(),
    writer.write(input).then(() => writer.close()),
  ]);
  if (!out.success) throw new Error(`bzip2 ${args.join(" ")} failed`);
  return out.stdout;
}

/** Writes `header`, the pages 100 per bzip2 stream, and `footer` to `dst` (atomically). */
export async function writeMultistream(
  dst: string,
  header: string,
  pages: string[],
  footer: string,
  pagesPerStream = 100,
): Promise<number> {
  const enc = new TextEncoder();
  const tmp = `${dst}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  let streams = 0;
  const put = async (text: string) => {
    const bytes = await bzip2(["-9c"], enc.encode(text));
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    streams++;
  };
  try {
    await put(header);
    for (let i = 0; i < pages.length; i += pagesPerStream) {
      await put(pages.slice(i, i + pagesPerStream).join("\n") + "\n");
    }
    await put(footer);
  } finally {
    file.close();
  }
  await Deno.rename(tmp, dst);
  return streams;
}

async function readXml(src: string): Promise<string> {
  return new TextDecoder().decode(await bzip2(["-dc"], await Deno.readFile(src)));
}

/** Mulberry32: a small seeded generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Source {
  title: string;
  /** The lead (everything before the first `==` heading), XML-escaped as in the dump. */
  lead: string;
  /** The sections, each starting with its `==` heading. */
  sections: string[];
}

const PT_HEADER = `<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" ` +
  `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.mediawiki.org/xml/export-0.10/ ` +
  `http://www.mediawiki.org/xml/export-0.10.xsd" version="0.10" xml:lang="pt">
  <siteinfo>
    <sitename>Wikipédia</sitename>
    <dbname>ptwiki</dbname>
    <base>https://pt.wikipedia.org/wiki/Wikip%C3%A9dia:P%C3%A1gina_principal</base>
    <generator>MediaWiki 1.41.0-wmf.25</generator>
    <case>first-letter</case>
    <namespaces>
      <namespace key="-2" case="first-letter">Multimédia</namespace>
      <namespace key="-1" case="first-letter">Especial</namespace>
      <namespace key="0" case="first-letter" />
      <namespace key="1" case="first-letter">Discussão</namespace>
      <namespace key="2" case="first-letter">Usuário(a)</namespace>
      <namespace key="3" case="first-letter">Usuário(a) Discussão</namespace>
      <namespace key="4" case="first-letter">Wikipédia</namespace>
      <namespace key="5" case="first-letter">Wikipédia Discussão</namespace>
      <namespace key="6" case="first-letter">Ficheiro</namespace>
      <namespace key="7" case="first-letter">Ficheiro Discussão</namespace>
      <namespace key="8" case="first-letter">MediaWiki</namespace>
      <namespace key="9" case="first-letter">MediaWiki Discussão</namespace>
      <namespace key="10" case="first-letter">Predefinição</namespace>
      <namespace key="11" case="first-letter">Predefinição Discussão</namespace>
      <namespace key="12" case="first-letter">Ajuda</namespace>
      <namespace key="13" case="first-letter">Ajuda Discussão</namespace>
      <namespace key="14" case="first-letter">Categoria</namespace>
      <namespace key="15" case="first-letter">Categoria Discussão</namespace>
      <namespace key="100" case="first-letter">Portal</namespace>
      <namespace key="101" case="first-letter">Portal Discussão</namespace>
      <namespace key="828" case="first-letter">Módulo</namespace>
      <namespace key="829" case="first-letter">Módulo Discussão</namespace>
    </namespaces>
  </siteinfo>
`;

const USERS = ["Paz e concórdia", "Stegop", "Érico", "Chronus", "Tuga1143", "Darwin", "JMagalhães"];
const COMMENTS = [
  "inserção de pred lang-de",
  "Foram revertidas as edições de [[Especial:Contribuições/200.1.2.3|200.1.2.3]]",
  "/* Ligações externas */",
  "[[WP:Bot|Bot]]: Adicionando [[Predefinição:Controle de autoridade]]",
  "correção ortográfica",
  "",
];

function xmlEscape(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** Builds the ptwiki-like page list of about `mb` MB of XML. */
function ptwikiPages(sources: Source[], ptSources: Source[], mb: number, seed = 1): string[] {
  const rand = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const enc = new TextEncoder();
  const pages: string[] = [];
  let bytes = 0;
  let id = 4;
  let rev = 61_000_000;
  const page = (title: string, ns: number, text: string, redirect?: string): string => {
    id += 1 + Math.floor(rand() * 3);
    rev += 1 + Math.floor(rand() * 5000);
    const day = 1 + Math.floor(rand() * 28);
    const user = rand() < 0.2
      ? `<ip>177.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}.${
        Math.floor(rand() * 255)
      }</ip>`
      : `<username>${xmlEscape(pick(USERS))}</username>\n        <id>${
        Math.floor(rand() * 5e6)
      }</id>`;
    const comment = pick(COMMENTS);
    const textBytes = enc.encode(text).length; // of the escaped text: close enough
    return `  <page>
    <title>${xmlEscape(title)}</title>
    <ns>${ns}</ns>
    <id>${id}</id>${redirect ? `\n    <redirect title="${xmlEscape(redirect)}" />` : ""}
    <revision>
      <id>${rev}</id>
      <parentid>${rev - 1 - Math.floor(rand() * 1e5)}</parentid>
      <timestamp>2023-0${1 + Math.floor(rand() * 9)}-${String(day).padStart(2, "0")}T1${
      Math.floor(rand() * 10)
    }:0${Math.floor(rand() * 10)}:1${Math.floor(rand() * 10)}Z</timestamp>
      <contributor>
        ${user}
      </contributor>${comment ? `\n      <comment>${xmlEscape(comment)}</comment>` : ""}
      <model>wikitext</model>
      <format>text/x-wiki</format>
      <text bytes="${textBytes}" xml:space="preserve">${text}</text>
      <sha1>${Math.floor(rand() * 36 ** 10).toString(36).padStart(31, "q")}</sha1>
    </revision>
  </page>`;
  };
  const titles: string[] = [];
  while (bytes < mb * 1e6) {
    const r = rand();
    let p: string;
    if (r < 0.4 && titles.length) {
      // a redirect to an earlier article (a spelling, plural or old title)
      const target = pick(titles);
      const variants = [
        `${target}s`,
        target.toLowerCase(),
        `${target} (desambiguação)`,
        `O ${target}`,
      ];
      p = page(
        pick(variants),
        0,
        rand() < 0.5
          ? `#REDIRECIONAMENTO [[${xmlEscape(target)}]]`
          : `#REDIRECIONAMENTO [[${
            xmlEscape(target)
          }]]\n\n{{Redirecionamento de grafia alternativa}}`,
        target,
      );
    } else if (r < 0.52) {
      const s = pick(sources);
      const kind = rand();
      if (kind < 0.45) {
        p = page(
          `Categoria:${s.title} ${titles.length}`,
          14,
          `{{Categoria principal|${xmlEscape(s.title)}}}\n\n[[Categoria:${
            xmlEscape(pick(sources).title)
          }]]\n[[Categoria:Listas]]`,
        );
      } else if (kind < 0.7) {
        // a template: the infobox-ish top of a lead
        p = page(
          `Predefinição:Info/${s.title} ${titles.length}`,
          10,
          `&lt;includeonly&gt;${
            s.lead.slice(0, s.lead.lastIndexOf("\n", 200 + Math.floor(rand() * 3000)) + 1)
          }&lt;/includeonly&gt;&lt;noinclude&gt;{{Documentação}}&lt;/noinclude&gt;`,
        );
      } else if (kind < 0.85) {
        p = page(
          `Wikipédia:Esplanada/${s.title} ${titles.length}`,
          4,
          pick([s.lead, ...s.sections]),
        );
      } else {
        p = page(
          `Ficheiro:${s.title.replaceAll(" ", "_")}_${titles.length}.jpg`,
          6,
          `== Sumário ==\n{{Informação\n|Descrição={{pt|1=${
            xmlEscape(s.title)
          }}}\n|Fonte={{own}}\n|Data=2012-05-0${
            Math.floor(rand() * 9)
          }\n}}\n\n== Licenciamento ==\n{{cc-by-sa-4.0}}`,
        );
      }
    } else {
      // an article: the lead plus a geometric number of sections (most are stubs)
      const s = rand() < 0.1 ? pick(ptSources) : pick(sources);
      let k = 0;
      while (k < s.sections.length && rand() < 0.55) k++;
      const start = Math.floor(rand() * Math.max(1, s.sections.length - k));
      let text = s.lead;
      if (rand() < 0.5 && text.length > 4000) text = text.slice(0, text.indexOf("\n", 3000) + 1);
      text += s.sections.slice(start, start + k).join("");
      text += `\n\n[[Categoria:${xmlEscape(pick(sources).title)}]]`;
      const title = titles.length < 50 ? s.title : `${s.title} ${titles.length}`;
      titles.push(title);
      p = page(title, 0, text);
    }
    pages.push(p);
    bytes += enc.encode(p).length + 1;
  }
  return pages;
}

function sourcesOf(xml: string): Source[] {
  const out: Source[] = [];
  for (const p of xml.match(/<page>[\s\S]*?<\/page>/g) ?? []) {
    if (!/<ns>0<\/ns>/.test(p) || /<redirect/.test(p)) continue;
    const title = /<title>([^<]*)<\/title>/.exec(p)?.[1] ?? "";
    const text = /<text[^>]*>([\s\S]*?)<\/text>/.exec(p)?.[1] ?? "";
    if (text.length < 500 || /^#REDIRECT/i.test(text)) continue;
    const parts = text.split(/(?=\n==[^=])/);
    out.push({
      title: title.replaceAll("&amp;", "&").replaceAll("&quot;", '"'),
      lead: parts[0],
      sections: parts.slice(1),
    });
  }
  return out;
}

if (import.meta.main) {
  const args = [...Deno.args];
  if (args[0] === "--ptwiki") {
    const [, mbArg, dst, ...srcs] = args;
    if (!dst || !srcs.length || !(Number(mbArg) > 0)) {
      console.error("usage: make_multistream.ts --ptwiki MB OUT.xml.bz2 DUMP.xml.bz2…");
      Deno.exit(2);
    }
    const sources: Source[] = [];
    const pt: Source[] = [];
    for (const src of srcs) {
      const xml = await readXml(src);
      const s = sourcesOf(xml);
      sources.push(...s);
      if (/xml:lang="pt"/.test(xml.slice(0, 2000))) pt.push(...s);
    }
    const pages = ptwikiPages(sources, pt.length ? pt : sources, Number(mbArg));
    const streams = await writeMultistream(dst, PT_HEADER, pages, "</mediawiki>\n");
    console.log(`${dst}: ${pages.length} pages in ${streams} bzip2 streams`);
  } else {
    const [src, dst, repeatArg] = args;
    if (!src || !dst) {
      console.error(
        "usage: make_multistream.ts DUMP.xml.bz2 OUT.xml.bz2 [REPEAT]\n" +
          "       make_multistream.ts --ptwiki MB OUT.xml.bz2 DUMP.xml.bz2…",
      );
      Deno.exit(2);
    }
    const repeat = Number(repeatArg ?? 5);
    const xml = await readXml(src);
    const first = xml.indexOf("<page>");
    const last = xml.lastIndexOf("</page>") + "</page>".length;
    const pages = xml.slice(first, last).match(/<page>[\s\S]*?<\/page>/g) ?? [];
    const all: string[] = [];
    for (let r = 0; r < repeat; r++) {
      for (const p of pages) {
        all.push(p.replace(/<id>(\d+)<\/id>/, (_, id) => `<id>${Number(id) + r * 1e7}</id>`));
      }
    }
    const streams = await writeMultistream(dst, xml.slice(0, first), all, xml.slice(last));
    console.log(`${dst}: ${all.length} pages in ${streams} bzip2 streams`);
  }
}
