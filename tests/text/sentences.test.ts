import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  BOUNDARY,
  findBoundaries,
  PT_ABBREVIATIONS,
  SCAN_LOOKBEHIND,
  scanBoundaries,
  segmentSentences,
} from "../../src/text/mod.ts";

const trimmed = (text: string, engine: "fast" | "intl" = "fast") =>
  segmentSentences(text, { engine }).map((s) => s.text.trim());

Deno.test("abbreviations mid-sentence do not end sentences", () => {
  const text = "O Sr. Almeida e a Sra. Costa foram ao Dr. Souza e à Dra. Lima. " +
    "O Prof. Dias escreveu ao Exmo. Senhor Ministro, e V. Exa. respondeu. " +
    "Segundo o art. 5 e o nº 12, p. ex., livros, cadernos etc. foram doados. Fim.";
  assertEquals(trimmed(text), [
    "O Sr. Almeida e a Sra. Costa foram ao Dr. Souza e à Dra. Lima.",
    "O Prof. Dias escreveu ao Exmo. Senhor Ministro, e V. Exa. respondeu.",
    "Segundo o art. 5 e o nº 12, p. ex., livros, cadernos etc. foram doados.",
    "Fim.",
  ]);
});

Deno.test("more Portuguese cases: titles, pages, centuries, ordinals, money, times", () => {
  const cases: [string, string[]][] = [
    ["D. Pedro II chegou no séc. XIX. Depois partiu.", [
      "D. Pedro II chegou no séc. XIX.",
      "Depois partiu.",
    ]],
    ["Veja a pág. 3 e o cap. 2 do vol. 1. Depois leia.", [
      "Veja a pág. 3 e o cap. 2 do vol. 1.",
      "Depois leia.",
    ]],
    ["A Sr.ª Maria chegou. O Dr. João também.", ["A Sr.ª Maria chegou.", "O Dr. João também."]],
    ["Isso é, i.e., o que foi dito. Fim.", ["Isso é, i.e., o que foi dito.", "Fim."]],
    ["O prof. Silva e a profa. Lima riram. Todos riram.", [
      "O prof. Silva e a profa. Lima riram.",
      "Todos riram.",
    ]],
    ["Pagou R$ 10,50. Recebeu US$ 3.00 de troco.", [
      "Pagou R$ 10,50.",
      "Recebeu US$ 3.00 de troco.",
    ]],
    ["Ganhou o 1º lugar. Depois o 2º.", ["Ganhou o 1º lugar.", "Depois o 2º."]],
    ["Ele perguntou: “Quem é você?” Ela não respondeu.", [
      "Ele perguntou: “Quem é você?”",
      "Ela não respondeu.",
    ]],
    ["Estava lá (e não saiu). Depois foi embora.", [
      "Estava lá (e não saiu).",
      "Depois foi embora.",
    ]],
  ];
  for (const [text, want] of cases) assertEquals(trimmed(text), want, text);
});

Deno.test("etc. before a capitalised word ends the sentence", () => {
  assertEquals(trimmed("Comprou pão, leite etc. Depois voltou."), [
    "Comprou pão, leite etc.",
    "Depois voltou.",
  ]);
});

Deno.test("decimals, thousands, times and dotted abbreviations stay inside", () => {
  assertEquals(
    trimmed(
      "O valor de pi é 3,14 e o de e é 2.718 aprox. agora. Custou R$ 1.000,50. Saiu às 10.30.",
    ),
    [
      "O valor de pi é 3,14 e o de e é 2.718 aprox. agora.",
      "Custou R$ 1.000,50.",
      "Saiu às 10.30.",
    ],
  );
  assertEquals(trimmed("Nasceu em 300 a.C. e morreu cedo. Visite www.exemplo.com.br hoje."), [
    "Nasceu em 300 a.C. e morreu cedo.",
    "Visite www.exemplo.com.br hoje.",
  ]);
});

Deno.test("ellipses end a sentence only before a capital", () => {
  assertEquals(trimmed("Esperou... e nada. Depois… Ninguém veio. Talvez..."), [
    "Esperou... e nada.",
    "Depois…",
    "Ninguém veio.",
    "Talvez...",
  ]);
});

Deno.test("quotes close the sentence they end", () => {
  assertEquals(
    trimmed('Ele disse: "Vou sair." E saiu. Ela perguntou: «Quem é?» e calou-se. “Fim.” Outra.'),
    [
      'Ele disse: "Vou sair."',
      "E saiu.",
      "Ela perguntou: «Quem é?» e calou-se.",
      "“Fim.”",
      "Outra.",
    ],
  );
});

Deno.test("dialogue dashes: narrator tags stay with the line, new turns split", () => {
  const text =
    "— Não sei, disse ele.\n— Quem é? — perguntou a moça.\n— Eu! — Respondeu o outro. — Vamos.";
  assertEquals(trimmed(text), [
    "— Não sei, disse ele.",
    "— Quem é? — perguntou a moça.",
    "— Eu!",
    "— Respondeu o outro.",
    "— Vamos.",
  ]);
  // the turn-taking line break is a LINE boundary
  const b = findBoundaries(text);
  assertEquals(b.level[0], BOUNDARY.LINE);
});

Deno.test("list items and headings are units; hard-wrapped lines are not", () => {
  const text =
    "# Compras\n\nPrecisamos de:\n1. Arroz\n2) Feijão\n- Café\n* Açúcar\n• Sal\na) Óleo\n\n" +
    "CAPÍTULO II\n\nEra uma vez um homem que andava\npela rua sem destino e sem pressa. Depois parou.";
  assertEquals(trimmed(text), [
    "# Compras",
    "Precisamos de:",
    "1. Arroz",
    "2) Feijão",
    "- Café",
    "* Açúcar",
    "• Sal",
    "a) Óleo",
    "CAPÍTULO II",
    "Era uma vez um homem que andava\npela rua sem destino e sem pressa.",
    "Depois parou.",
  ]);
  const b = findBoundaries(text);
  const at = (s: string) => b.level[b.pos.indexOf(text.indexOf(s))];
  assertEquals(at("CAPÍTULO II"), BOUNDARY.SECTION, "a heading starts a section");
  assertEquals(at("Era uma vez"), BOUNDARY.CLAUSE, "a heading stays with its text");
  assertEquals(at("Precisamos"), BOUNDARY.CLAUSE);
  assertEquals(at("1. Arroz"), BOUNDARY.LINE);
});

Deno.test("a one-line title-like paragraph stays with the text under it", () => {
  const text =
    "Fim do capítulo anterior.\n\nA Poesia\n\nEra uma vez um verso. Outro.\n\n12 de maio\n\nHoje choveu.";
  const b = findBoundaries(text);
  const at = (s: string) => b.level[b.pos.indexOf(text.indexOf(s))];
  assertEquals(at("A Poesia"), BOUNDARY.PARAGRAPH);
  assertEquals(at("Era uma vez"), BOUNDARY.CLAUSE);
  assertEquals(at("12 de maio"), BOUNDARY.PARAGRAPH);
  assertEquals(at("Hoje"), BOUNDARY.CLAUSE);
  // a short paragraph with punctuation is not a title
  const p = "Primeiro.\n\nSegundo, sem ponto\n\nTerceiro.";
  const bp = findBoundaries(p);
  assertEquals(bp.level, [BOUNDARY.PARAGRAPH, BOUNDARY.PARAGRAPH]);
});

Deno.test("paragraphs, CRLF and the C1 dash of the Machado corpus", () => {
  const text =
    "Primeiro parágrafo.\r\n\r\nSegundo, sem ponto\r\n\r\n\u0097 Fala, disse ele.\r\n\u0097 Outra fala.";
  const s = segmentSentences(text);
  assertEquals(s.map((x) => x.text.trim()), [
    "Primeiro parágrafo.",
    "Segundo, sem ponto",
    "\u0097 Fala, disse ele.",
    "\u0097 Outra fala.",
  ]);
  assertEquals(s[0].level, BOUNDARY.PARAGRAPH);
  assertEquals(s[2].level, BOUNDARY.LINE);
});

Deno.test("segmentation is lossless and both engines agree on Portuguese text", () => {
  const text = "A Sra. Lima chegou às 3 horas. Trouxe 3,14 kg de café... Ninguém viu!\n\n" +
    "— Não sei, disse ele. — E você?\n— Eu? Nada.\n\nCAPÍTULO III\n\nFim do livro, etc. e tal.";
  for (const engine of ["fast", "intl"] as const) {
    const s = segmentSentences(text, { engine });
    assertEquals(s.map((x) => x.text).join(""), text);
    for (const x of s) assertEquals(text.slice(x.start, x.end), x.text);
  }
  // ICU proposes no break before a mid-line dialogue dash: the intl engine's breaks are a subset
  const fast = new Set(segmentSentences(text).map((x) => x.start));
  for (const x of segmentSentences(text, { engine: "intl" })) assert(fast.has(x.start));
  const plain = text.replace("ele. — E", "ele. E");
  assertEquals(trimmed(plain, "intl"), trimmed(plain, "fast"));
});

Deno.test("every listed abbreviation followed by a name does not split", () => {
  for (const abbr of PT_ABBREVIATIONS) {
    if (abbr.includes(".")) continue;
    const word = abbr[0].toUpperCase() + abbr.slice(1);
    const text = `Falou com o ${word}. Fulano ontem.`;
    const n = segmentSentences(text).length;
    if (["etc", "jr", "ltda", "cia", "inc"].includes(abbr)) assertEquals(n, 2, abbr);
    else assertEquals(n, 1, `${abbr}: ${JSON.stringify(trimmed(text))}`);
  }
});

Deno.test("incremental scanning gives the boundaries of the whole text", () => {
  const base =
    "O Dr. Souza chegou... Ninguém viu.\n— Quem? — disse.\n\n# Título\n\n1. Um\n2. Dois\n" +
    "Texto quebrado\nem linhas. Fim etc. Outro 3,14.\r\n\r\nÚltimo 😀 emoji.  \n";
  const text = base.repeat(30);
  const whole = findBoundaries(text);
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let trial = 0; trial < 20; trial++) {
    const got: number[] = [];
    const levels: number[] = [];
    let buf = "";
    let base = 0; // absolute offset of buf[0]
    let from = 0;
    let p = 0;
    while (p < text.length) {
      const q = Math.min(text.length, p + 1 + Math.floor(rand() * 40));
      buf += text.slice(p, q);
      p = q;
      const final = p === text.length;
      const r = scanBoundaries(buf, from - base, final, (pos, level) => {
        got.push(pos + base);
        levels.push(level);
      });
      from = r + base;
      // trim like a streaming caller, keeping the look-behind
      const keep = from - SCAN_LOOKBEHIND;
      if (keep > base + 100) {
        buf = buf.slice(keep - base);
        base = keep;
      }
    }
    assertEquals(got, whole.pos);
    assertEquals(levels, whole.level);
  }
  assert(whole.pos.length > 100);
});
