import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { exists, SAMPLE, SHARED } from "./fixtures.ts";
import { runCli } from "../_cli.ts";

// chunk needs no more than these.
const bentevi = (...args: string[]) =>
  runCli(args, { permissions: ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi"] });

Deno.test("chunk writes lossless JSONL; analyze reads it back", async () => {
  const dir = await Deno.makeTempDir();
  const src = `${dir}/texto.txt`;
  await Deno.writeTextFile(src, SAMPLE);
  const r = await bentevi(
    "chunk",
    src,
    "--strategy",
    "sentence",
    "--max-chars",
    "300",
    "--output",
    `${dir}/c.jsonl`,
  );
  assertEquals(r.code, 0, r.stderr);
  const lines = (await Deno.readTextFile(`${dir}/c.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assertEquals(Object.keys(lines[0]), ["index", "start", "end", "tokens", "text"]);
  assertEquals(lines.map((l) => l.text).join(""), SAMPLE);
  for (const l of lines) assert(l.tokens <= 300 && l.tokens === l.text.length);
  // stdout gives the same lines
  const std = await bentevi("chunk", src, "--strategy", "sentence", "--max-chars", "300");
  assertEquals(std.stdout, await Deno.readTextFile(`${dir}/c.jsonl`));
  const a = await bentevi("chunk", "analyze", `${dir}/c.jsonl`, "--source", src, "--json");
  assertEquals(a.code, 0, a.stderr);
  const report = JSON.parse(a.stdout);
  assertEquals(report.chunks, lines.length);
  assertEquals(report.source_check.ok, true);
  assert(report.sentence_end_share > 0.7);
  assert(Array.isArray(report.suggestions) && report.suggestions.length > 0);
  // a source that is not the chunked one is caught
  await Deno.writeTextFile(`${dir}/other.txt`, SAMPLE.replace("vila", "VILA"));
  const bad = await bentevi(
    "chunk",
    "analyze",
    `${dir}/c.jsonl`,
    "--source",
    `${dir}/other.txt`,
    "--json",
  );
  assertEquals(JSON.parse(bad.stdout).source_check.ok, false);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("chunk with overlap and a token budget (GPT-2)", {
  ignore: !exists(`${SHARED}tokenizer/gpt2/tokenizer.json`),
}, async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/t.txt`, SAMPLE);
  const r = await bentevi(
    "chunk",
    `${dir}/t.txt`,
    "--max-tokens",
    "40",
    "--overlap",
    "0.25",
    "--tokenizer",
    `${SHARED}tokenizer/gpt2/tokenizer.json`,
  );
  assertEquals(r.code, 0, r.stderr);
  const chunks = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  let rebuilt = "", prevEnd = 0;
  for (const c of chunks) {
    assert(c.tokens <= 40);
    rebuilt += SAMPLE.slice(Math.max(prevEnd, c.start), c.end);
    prevEnd = c.end;
  }
  assertEquals(rebuilt, SAMPLE);
  assert(chunks.some((c, i) => i > 0 && c.start < chunks[i - 1].end), "some overlap");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("bad input: one-line errors, non-zero exit, no output file", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/empty.txt`, "");
  await Deno.writeFile(
    `${dir}/latin1.txt`,
    new Uint8Array([0x63, 0xe3, 0x6f, 0x0a, 0x61, 0xe7, 0x61]),
  );
  await Deno.writeTextFile(`${dir}/ok.txt`, "Uma frase. Outra frase.");
  await Deno.writeTextFile(`${dir}/notchunks.jsonl`, '{"index":0,"start":0}\n');
  const cases: [string[], RegExp][] = [
    [["chunk", `${dir}/empty.txt`, "--output", `${dir}/o1.jsonl`], /empty input/],
    [
      ["chunk", `${dir}/latin1.txt`, "--output", `${dir}/o2.jsonl`],
      /invalid UTF-8 at byte 1 \(line 1, column 2\).*--encoding latin1/,
    ],
    [["chunk", `${dir}/ok.txt`, "--overlap", "0.7"], /overlap.*between 0 and 0.5/],
    [["chunk", `${dir}/ok.txt`, "--overlap", "-0.1"], /overlap/],
    [["chunk", `${dir}/ok.txt`, "--max-chars", "0"], /max-chars.*between 1/],
    [["chunk", `${dir}/ok.txt`, "--max-tokens", "10"], /--max-tokens needs --tokenizer/],
    [["chunk", `${dir}/ok.txt`, "--strategy", "magic"], /unknown "magic"/],
    [["chunk", `${dir}/missing.txt`], /missing.txt: file not found/],
    [["chunk", "analyze", `${dir}/notchunks.jsonl`], /notchunks.jsonl:1: not chunk output/],
    [["chunk", "analyze", `${dir}/ok.txt`], /ok.txt:1: not chunk output \(not JSON\)/],
  ];
  for (const [args, re] of cases) {
    const r = await bentevi(...args);
    assert(r.code !== 0, `${args.join(" ")} exited 0`);
    const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("(add --help"));
    assertEquals(lines.length, 1, r.stderr);
    assert(re.test(lines[0]), `${args.join(" ")}: ${lines[0]}`);
  }
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assertEquals(
    names,
    ["empty.txt", "latin1.txt", "notchunks.jsonl", "ok.txt"],
    "no partial output",
  );
  const latin = await bentevi("chunk", `${dir}/latin1.txt`, "--encoding", "latin1");
  assertEquals(latin.code, 0, latin.stderr);
  assertEquals(JSON.parse(latin.stdout).text, "cão\naça");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("chunk bench --json maps every strategy to its figures", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/t.txt`, SAMPLE.repeat(5));
  const r = await bentevi(
    "chunk",
    "bench",
    `${dir}/t.txt`,
    "--max-chars",
    "120",
    "--repeat",
    "1",
    "--json",
  );
  assertEquals(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout);
  assertEquals(Object.keys(rows), ["fixed", "sentence", "semantic", "adaptive", "recursive"]);
  for (const row of Object.values(rows) as Record<string, number | boolean>[]) {
    assert(typeof row.mb_per_s === "number" && row.mb_per_s > 0);
    assert(typeof row.chunks === "number" && row.chunks > 0);
    assert(typeof row.sentence_end_share === "number");
    assertEquals(row.over_budget, 0);
    assertEquals(row.lossless, true);
    assert((row.max_tokens as number) <= 120, "the budget reached the bench");
  }
  // a folder is read as its .txt files concatenated; `bench chunking` runs the same suite
  await Deno.mkdir(`${dir}/pasta/sub`, { recursive: true });
  await Deno.writeTextFile(`${dir}/pasta/a.txt`, "Primeira frase. ");
  await Deno.writeTextFile(`${dir}/pasta/sub/b.txt`, "Segunda frase.");
  const folder = await bentevi("bench", "chunking", `${dir}/pasta`, "--json");
  assertEquals(folder.code, 0, folder.stderr);
  const frows = JSON.parse(folder.stdout);
  assertEquals(frows.sentence.chunks, 1);
  assertEquals(frows.sentence.lossless, true);
  await Deno.remove(dir, { recursive: true });
});
