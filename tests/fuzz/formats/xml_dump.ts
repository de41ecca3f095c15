/**
 * MediaWiki XML dumps (plain XML; the bz2 layer has its own formats): pages read with
 * `readWikiDump` and cleaned with `processPage`, as `bentevi wiki` does.
 */
import { readWikiDump } from "../../../src/data/wiki/dump.ts";
import { processPage } from "../../../src/data/wiki/shards.ts";
import type { FuzzFormat, Seed } from "../harness.ts";
import { SENTENCES, utf8 } from "./_fixtures.ts";

function page(id: number, title: string, text: string, ns = 0): string {
  return `  <page>
    <title>${title}</title>
    <ns>${ns}</ns>
    <id>${id}</id>
    <revision>
      <id>${1000 + id}</id>
      <timestamp>2026-01-0${id % 9 + 1}T12:00:00Z</timestamp>
      <contributor><username>Fuzz</username><id>7</id></contributor>
      <model>wikitext</model>
      <format>text/x-wiki</format>
      <text bytes="${text.length}" xml:space="preserve">${text}</text>
      <sha1>abc</sha1>
    </revision>
  </page>
`;
}

function dump(pages: string[]): string {
  return `<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="pt">
  <siteinfo>
    <sitename>Wikipédia</sitename>
    <dbname>ptwiki</dbname>
    <namespaces><namespace key="0" case="first-letter" /></namespaces>
  </siteinfo>
${pages.join("")}</mediawiki>
`;
}

const ARTICLE = `{{Info/Ave|nome=Bem-te-vi}}
'''Bem-te-vi''' é uma ave.&lt;ref&gt;Fonte&lt;/ref&gt; ${SENTENCES[0]}

== Hábitos ==
${SENTENCES[1]} [[Feira|feiras]] e [[Arquivo:Ave.jpg|thumb|Uma ave]].
{| class="wikitable"
|-
| a || b
|}
* ${SENTENCES[2]}
[[Categoria:Aves]]`;

export const xmlDump: FuzzFormat = {
  name: "xml-dump",
  seeds() {
    const pages = [
      page(1, "Bem-te-vi", ARTICLE),
      page(2, "Bentevi", "#REDIRECIONAMENTO [[Bem-te-vi]]"),
      page(3, "Ponte &amp; rio", SENTENCES.slice(2).join("\n\n")),
      page(4, "Predefinição:Ave", "{{{1}}}", 10),
    ];
    return Promise.resolve<Seed[]>([
      { label: "four-pages", files: { "ptwiki.xml": utf8(dump(pages)) } },
      { label: "one-page", files: { "mini.xml": utf8(dump([pages[0]])) } },
    ]);
  },
  async run(_root, file) {
    for await (const p of readWikiDump(file, { native: false })) processPage(p, 10);
  },
};
