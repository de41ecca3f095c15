// Small documents of every kind the index reads, made in code (no binary fixtures committed):
// a PDF with a text layer per page (or none, or encrypted), a DOCX, an HTML page.
import { strToU8, zipSync } from "../../src/deps.ts";

/**
 * A minimal PDF 1.4: one page per string (lines drawn with Helvetica, WinAnsi: Latin-1 text),
 * `null` for a page with no text (an "image-only" page). `encrypted`: a Standard security
 * handler whose user password is not empty (opening needs a password).
 */
export function makePdf(
  pages: (string | null)[],
  options: { encrypted?: boolean } = {},
): Uint8Array {
  const objs: string[] = [];
  objs[1] = `<< /Type /Catalog /Pages 2 0 R >>`;
  objs[2] = `<< /Type /Pages /Kids [${
    pages.map((_, i) => `${4 + 2 * i} 0 R`).join(" ")
  }] /Count ${pages.length} >>`;
  objs[3] = `<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>`;
  pages.forEach((p, i) => {
    const ops = p === null
      ? "0.5 g 72 72 200 200 re f"
      : p.split("\n").map((l, j) =>
        `BT /F1 12 Tf 72 ${720 - 16 * j} Td (${l.replace(/[()\\]/g, "\\$&")}) Tj ET`
      ).join("\n");
    objs[4 + 2 * i] =
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${
        5 + 2 * i
      } 0 R >>`;
    objs[5 + 2 * i] = `<< /Length ${ops.length} >>\nstream\n${ops}\nendstream`;
  });
  let encrypt = "";
  if (options.encrypted) {
    const e = objs.length;
    const hex32 = (c: string) => `<${c.repeat(64)}>`;
    objs[e] = `<< /Filter /Standard /V 1 /R 2 /Length 40 /O ${hex32("a")} /U ${
      hex32("b")
    } /P -4 >>`;
    encrypt =
      ` /Encrypt ${e} 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>]`;
  }
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  for (let i = 1; i < objs.length; i++) {
    offsets[i] = out.length;
    out += `${i} 0 obj\n${objs[i]}\nendobj\n`;
  }
  const xref = out.length;
  out += `xref\n0 ${objs.length}\n0000000000 65535 f \n` +
    offsets.slice(1).map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("");
  out += `trailer\n<< /Size ${objs.length} /Root 1 0 R${encrypt} >>\nstartxref\n${xref}\n%%EOF\n`;
  return Uint8Array.from(out, (c) => c.charCodeAt(0));
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A minimal DOCX whose body is these paragraphs. */
export function makeDocx(paragraphs: string[], headings: number[] = []): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  const file = (name: string, text: string) => files[name] = strToU8(text);
  file(
    "[Content_Types].xml",
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
  );
  file(
    "_rels/.rels",
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`,
  );
  file(
    "word/document.xml",
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${
      paragraphs.map((p, i) =>
        `<w:p>${
          headings.includes(i) ? '<w:pPr><w:pStyle w:val="Heading1"/></w:pPr>' : ""
        }<w:r><w:t xml:space="preserve">${esc(p)}</w:t></w:r></w:p>`
      ).join("")
    }</w:body></w:document>`,
  );
  return zipSync(files);
}

/** An HTML page with navigation, a sidebar and footer around one article. */
export function makeHtml(title: string, paragraphs: string[]): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<script>var tracking = "não indexar";</script></head><body>
<nav><a href="/">Início</a> | <a href="/contato">Contato</a> | <a href="/menu">Cardápio do menu lateral</a></nav>
<aside class="sidebar"><p>Publicidade: compre já</p></aside>
<article><h1>${esc(title)}</h1>${paragraphs.map((p) => `<p>${esc(p)}</p>`).join("\n")}</article>
<footer><p>Todos os direitos reservados.</p></footer></body></html>`;
}
