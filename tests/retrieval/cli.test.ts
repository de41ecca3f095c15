// The index and search commands, run with exactly the permissions the README documents:
// `index build`/`update` read and write; `search`, `index info` and `index eval` only read.
import assert from "node:assert/strict";
import { assertOneLineError, runCli } from "../_cli.ts";
import { main } from "../../cli.ts";
import { makePdf } from "./_fixtures.ts";
import { tempDir } from "../_tmp.ts";

const RW = ["--allow-read", "--allow-write"];
const R = ["--allow-read"];

Deno.test("index build / search / info / eval / update from the command line, least privilege", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.mkdir(`${dir}/docs`);
  await Deno.writeTextFile(
    `${dir}/docs/aves.md`,
    "# Aves\n\nO sabiá-laranjeira é a ave símbolo do Brasil.\n\n## Canto\n\nCanta ao amanhecer.\n",
  );
  await Deno.writeFile(`${dir}/docs/lei.pdf`, makePdf(["Lei da jabuticaba.", "Artigo do xaxim."]));
  await Deno.writeFile(`${dir}/docs/cofre.pdf`, makePdf(["x"], { encrypted: true }));
  const index = `${dir}/i.db`;
  const b = await runCli(["index", "build", `${dir}/docs`, "--index", index, "--json"], {
    permissions: RW,
  });
  assert.equal(b.code, 0, b.stderr);
  const report = JSON.parse(b.stdout);
  assert.equal(report.indexed, 2);
  assert.equal(report.skipped.length, 1);
  assert.match(b.stderr, /skipped .*cofre\.pdf: password-protected PDF/);

  const s = await runCli(["search", "--index", index, "SIMBOLO do brasil", "--json", "--k", "2"], {
    permissions: R,
  });
  assert.equal(s.code, 0, s.stderr);
  const hits = JSON.parse(s.stdout);
  assert.ok(hits.length >= 1);
  for (const key of ["text", "score", "source", "start", "end", "byteStart", "byteEnd"]) {
    assert.ok(key in hits[0], key);
  }
  assert.match(hits[0].text, /sabiá-laranjeira é a ave símbolo/);
  assert.equal(hits[0].source.title, "Aves");
  const text = await Deno.readTextFile(`${dir}/docs/aves.md`);
  assert.equal(text.slice(hits[0].start, hits[0].end), hits[0].text);

  const p = await runCli(["search", "--index", index, "xaxim"], { permissions: R });
  assert.match(p.stdout, /\[1\] .*lei\.pdf \(page 2, chars 0–\d+\)/);

  const info = await runCli(["index", "info", "--index", index], { permissions: R });
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /documents +2 \(1 markdown, 1 pdf\)/);
  assert.match(info.stdout, /bm25 \(no --model/);
  assert.match(info.stdout, /strategy=recursive max-chars=1000/);

  await Deno.writeTextFile(
    `${dir}/q.jsonl`,
    '{"query":"ave simbolo","relevant":["aves.md"]}\n{"query":"jabuticaba","relevant":["lei.pdf"]}\n',
  );
  const e = await runCli(["index", "eval", "--index", index, "--queries", `${dir}/q.jsonl`], {
    permissions: R,
  });
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /2 queries, bm25: recall@1 1 .*MRR 1/);

  await Deno.remove(`${dir}/docs/lei.pdf`);
  const u = await runCli(["index", "update", "--index", index, "--json"], { permissions: RW });
  assert.equal(u.code, 0, u.stderr);
  assert.deepEqual([JSON.parse(u.stdout).removed, JSON.parse(u.stdout).unchanged], [1, 1]);

  // Bad input: one line each.
  assertOneLineError(
    await runCli(["search", "--index", index, "   "], { permissions: R }),
    /empty query/,
  );
  assertOneLineError(
    await runCli(["search", "--index", index, "o que é isso"], { permissions: R }),
    /only stop words/,
  );
  assertOneLineError(
    await runCli(["search", "--index", `${dir}/docs/aves.md`, "aves"], { permissions: R }),
    /not a Bentevi index \(not an SQLite database\)/,
  );
  assertOneLineError(
    await runCli(["index", "build", `${dir}/docs`, "--index", index, "--max-chars", "300"], {
      permissions: RW,
    }),
    /built with other settings \(maxTokens differ.*--force/,
  );
  assertOneLineError(
    await runCli(["index", "build", `${dir}/docs`, "--index", index, "--max-tokens", "50"], {
      permissions: RW,
    }),
    /--max-tokens needs --tokenizer/,
  );
  assertOneLineError(
    await runCli(["search", "--index", index, "aves", "--mode", "dense"], { permissions: R }),
    /no embeddings \(BM25 only\)/,
  );
});

Deno.test("index build: SIGTERM stops it between chunks, rolls back the file in progress, exit 143", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.mkdir(`${dir}/docs`);
  await Deno.writeFile(`${dir}/docs/a.txt`, new Uint8Array([0, 1, 2])); // skipped: binary
  await Deno.writeTextFile(
    `${dir}/docs/b.txt`,
    Array.from({ length: 20_000 }, (_, i) => `Frase ${i} sobre o quero-quero.`).join("\n\n"),
  );
  const index = `${dir}/i.db`;
  // The first skip notice sends SIGTERM (SIGINT would stop the test runner) to this process, while b.txt is still being chunked.
  const { error } = console;
  const err: string[] = [];
  console.error = (...a: unknown[]) => {
    const line = a.join(" ");
    err.push(line);
    if (line.includes("skipped")) Deno.kill(Deno.pid, "SIGTERM");
  };
  let code: number;
  try {
    code = await main(["index", "build", `${dir}/docs`, "--index", index]);
  } finally {
    console.error = error;
  }
  assert.equal(code, 143, err.join("\n")); // 130 after SIGINT
  assert.match(
    err.join("\n"),
    /interrupted after 0 file\(s\).*run the same command again to resume/,
  );
  const info = await runCli(["index", "info", "--index", index, "--json"], { permissions: R });
  const j = JSON.parse(info.stdout);
  assert.deepEqual([j.state, j.documents, j.chunks], ["building", 0, 0]);
});
