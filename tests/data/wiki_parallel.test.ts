/**
 * `wiki --workers N` must write, byte for byte, the shards one reader writes: same records,
 * same order, same shard boundaries — on the real dumps' layout (100 pages per bzip2 stream)
 * and on streams cut anywhere (pages and UTF-8 characters straddling two streams), with
 * several shards, both formats and any task size. Needs the `bzip2` command to build the
 * dumps (skips with a message without it).
 */
import assert from "node:assert/strict";
import { convertWikiDump } from "../../src/data/mod.ts";
import type { ConvertWikiOptions } from "../../src/data/wiki/shards.ts";

const XML = new URL("./fixtures/mini-ptwiki.xml", import.meta.url).pathname;

async function bzip2(bytes: Uint8Array): Promise<Uint8Array | null> {
  try {
    const child = new Deno.Command("bzip2", { args: ["-1", "-c"], stdin: "piped", stdout: "piped" })
      .spawn();
    const w = child.stdin.getWriter();
    const [out] = await Promise.all([child.output(), w.write(bytes).then(() => w.close())]);
    return out.success ? out.stdout : null;
  } catch {
    return null;
  }
}

/** 700 pages made from the fixture's 7 (fresh ids and titles, texts of varied length). */
function buildPages(): { header: string; pages: string[]; footer: string } {
  const xml = Deno.readTextFileSync(XML);
  const first = xml.indexOf("  <page>");
  const last = xml.lastIndexOf("</page>") + "</page>\n".length;
  const base = xml.slice(first, last).match(/ {2}<page>[\s\S]*?<\/page>\n/g)!;
  const pages: string[] = [];
  for (let i = 0; i < 700; i++) {
    pages.push(
      base[i % base.length]
        .replace(/<title>([^<]*)<\/title>/, (_, t) => `<title>${t} ${i}</title>`)
        .replace(/<id>\d+<\/id>/, `<id>${1000 + i}</id>`)
        .replace("</text>", ` Parágrafo nº ${i} — açaí.`.repeat(i % 17) + "</text>"),
    );
  }
  return { header: xml.slice(0, first), pages, footer: xml.slice(last) };
}

/** One bzip2 stream per part, back to back. */
async function multistream(parts: Uint8Array[]): Promise<Uint8Array | null> {
  const streams: Uint8Array[] = [];
  for (const p of parts) {
    const s = await bzip2(p);
    if (!s) return null;
    streams.push(s);
  }
  const out = new Uint8Array(streams.reduce((n, s) => n + s.length, 0));
  let off = 0;
  for (const s of streams) {
    out.set(s, off);
    off += s.length;
  }
  return out;
}

async function shards(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
    files.set(e.name, await Deno.readFile(`${dir}/${e.name}`));
  }
  return files;
}

async function assertSameAsOneReader(dump: string, dir: string, label: string) {
  for (const format of ["jsonl", "txt"] as const) {
    const common: Omit<ConvertWikiOptions, "output"> = { format, shardBytes: 40_000, minChars: 5 };
    const one = await convertWikiDump(dump, {
      ...common,
      output: `${dir}/${format}-1`,
      workers: 1,
    });
    const expected = await shards(`${dir}/${format}-1`);
    assert.ok(expected.size >= 4, `${label}: several shards expected, got ${expected.size}`);
    const runs: [number, number | undefined][] = format === "jsonl"
      ? [[2, 1], [2, 9_000], [3, 1]]
      : [[2, 1]];
    for (const [workers, streamGroupBytes] of runs) {
      const out = `${dir}/${format}-${workers}-${streamGroupBytes}`;
      const many = await convertWikiDump(dump, {
        ...common,
        output: out,
        workers,
        streamGroupBytes,
      });
      const what = `${label}, ${format}, ${workers} workers, groups of ${
        streamGroupBytes ?? "default"
      }`;
      assert.equal(many.workers, workers, `${what}: the parallel reader was not used`);
      const got = await shards(out);
      assert.deepEqual([...got.keys()], [...expected.keys()], `${what}: shard names`);
      for (const [name, bytes] of expected) {
        assert.ok(
          bytes.length === got.get(name)!.length && bytes.every((b, i) => b === got.get(name)![i]),
          `${what}: ${name} differs from the one-reader output`,
        );
      }
      for (const k of ["pagesSeen", "kept", "redirects", "otherNamespaces", "tooShort"] as const) {
        assert.equal(many[k], one[k], `${what}: ${k}`);
      }
      assert.equal(many.xmlBytes, one.xmlBytes, `${what}: xmlBytes`);
    }
  }
}

Deno.test("wiki: Workers write byte-identical shards to one reader (100-page streams, and streams cut mid-page)", async () => {
  const { header, pages, footer } = buildPages();
  const dir = await Deno.makeTempDir();
  try {
    // the real dumps' layout: the header, 100 pages per stream, the footer
    const layout: string[] = [header];
    for (let i = 0; i < pages.length; i += 100) layout.push(pages.slice(i, i + 100).join(""));
    layout.push(footer);
    const enc = new TextEncoder();
    const real = await multistream(layout.map((part) => enc.encode(part)));
    if (!real) {
      console.log("bzip2 command not available: skipped");
      return;
    }
    await Deno.writeFile(`${dir}/real.xml.bz2`, real);
    await assertSameAsOneReader(`${dir}/real.xml.bz2`, `${dir}/real`, "100-page streams");

    // the same XML cut every 7,001 bytes: pages, tags and UTF-8 characters straddle streams
    const xml = enc.encode(layout.join(""));
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < xml.length; i += 7001) pieces.push(xml.subarray(i, i + 7001));
    assert.ok(pieces.some((p) => p[p.length - 1] >= 0x80), "no cut inside a character");
    await Deno.writeFile(`${dir}/cut.xml.bz2`, (await multistream(pieces))!);
    await assertSameAsOneReader(
      `${dir}/cut.xml.bz2`,
      `${dir}/cut`,
      "streams cut every 7,001 bytes",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
