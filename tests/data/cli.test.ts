import assert from "node:assert/strict";
import { ALL_PERMISSIONS, assertOneLineError, type CliResult, runCli } from "../_cli.ts";
import { writeTokenDataset } from "../../src/data/mod.ts";
import { tempDir } from "../_tmp.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const cli = (...args: string[]) => runCli(args);

const oneLineError = (r: CliResult, pattern: RegExp) => assertOneLineError(r, pattern);

Deno.test("cli wiki: counts as JSON; a truncated dump fails in one line with no shard", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const ok = await cli(
    "wiki",
    `${FIXTURES}mini-ptwiki-multistream.xml.bz2`,
    "-o",
    `${dir}/ok`,
    "--json",
  );
  assert.equal(ok.code, 0, ok.stderr);
  const stats = JSON.parse(ok.stdout);
  assert.equal(stats.kept, 3);
  const bz = await Deno.readFile(`${FIXTURES}mini-ptwiki-multistream.xml.bz2`);
  await Deno.writeFile(`${dir}/cut.xml.bz2`, bz.subarray(0, 1000));
  const bad = await cli("wiki", `${dir}/cut.xml.bz2`, "-o", `${dir}/bad`);
  oneLineError(bad, /cut\.xml\.bz2: truncated bzip2 file/);
  assert.deepEqual([...Deno.readDirSync(`${dir}/bad`)], []);
});

Deno.test("cli dataset info: bad header and size mismatch are one-line errors; --json works", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await writeTokenDataset(`${dir}/t.bin`, [1, 2, 3, 2], { vocabSize: 10 });
  const ok = await cli("dataset", "info", `${dir}/t.bin`, "--json");
  assert.equal(ok.code, 0, ok.stderr);
  const info = JSON.parse(ok.stdout);
  assert.equal(info.tokens, 4);
  assert.equal(info.topTokens[0].id, 2);
  const bytes = await Deno.readFile(`${dir}/t.bin`);
  await Deno.writeFile(`${dir}/short.bin`, bytes.subarray(0, bytes.length - 2));
  oneLineError(
    await cli("dataset", "info", `${dir}/short.bin`),
    /short\.bin: size 1030 bytes does not match/,
  );
  await Deno.writeTextFile(`${dir}/texto.bin`, "isto não é um dataset".repeat(100));
  oneLineError(
    await cli("dataset", "info", `${dir}/texto.bin`),
    /texto\.bin: not an llm\.c token file/,
  );
});

Deno.test("cli clean/audit: invalid UTF-8 names file and byte; audit --json", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.writeFile(`${dir}/a.txt`, new Uint8Array([0x61, 0x62, 0xe9, 0x0a]));
  oneLineError(
    await cli("clean", `${dir}/a.txt`, "-o", `${dir}/out`),
    /a\.txt: invalid UTF-8 at byte 2/,
  );
  const ok = await cli(
    "clean",
    `${dir}/a.txt`,
    "-o",
    `${dir}/out`,
    "--encoding",
    "latin1",
    "--min-chars",
    "1",
  );
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(await Deno.readTextFile(`${dir}/out/a.txt`), "abé\n");
  const audit = await cli("audit", `${dir}/out`, "--json");
  assert.equal(JSON.parse(audit.stdout).words, 1);
});

Deno.test("cli bench bz2 --json reports native and fallback MB/s", async () => {
  const r = await cli(
    "bench",
    "bz2",
    `${ROOT}tests/native/fixtures/texto-multistream.txt.bz2`,
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.ok(j.fallback_mb_per_s > 0);
  assert.ok(j.native_mb_per_s === null || j.native_mb_per_s > 0);
  assert.equal(
    j.decompressedBytes,
    (await Deno.stat(`${ROOT}tests/native/fixtures/texto.txt`)).size,
  );
});

Deno.test("cli without --allow-ffi: one notice line, same output through the fallbacks", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const run = (permissions: readonly string[], out: string) =>
    runCli(["wiki", `${FIXTURES}mini-ptwiki-multistream.xml.bz2`, "-o", out], { permissions });
  const fallback = await run(["--allow-read", "--allow-write", "--allow-env"], `${dir}/a`);
  assert.equal(fallback.code, 0);
  assert.match(
    fallback.stderr,
    /^bentevi: native shim unavailable \(needs --allow-ffi\); using the pure TypeScript fallbacks$/m,
  );
  const full = await run(ALL_PERMISSIONS, `${dir}/b`);
  assert.equal(full.code, 0);
  assert.doesNotMatch(full.stderr, /native shim unavailable/);
  assert.equal(
    await Deno.readTextFile(`${dir}/a/wiki_00000.jsonl`),
    await Deno.readTextFile(`${dir}/b/wiki_00000.jsonl`),
  );
});

Deno.test("cli bench wiki --json: throughput and zero residue on the project's fixture", async () => {
  const r = await cli("bench", "wiki", `${FIXTURES}mini-ptwiki-multistream.xml.bz2`, "--json");
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.kept, 3);
  assert.ok(j.mb_per_s > 0);
  assert.equal(j.residue_lines, 0);
  assert.ok(j.output_lines > 5);
});
