import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import { listInputFiles } from "../../src/text/mod.ts";

Deno.test("listInputFiles: folders recursively in name order, hidden skipped, names relative", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bentevi-inputs-" });
  for (const name of ["b.txt", "a/z.jsonl", "a/c.txt", ".oculto/x.txt", "a/.tmp.txt", "d.md"]) {
    await Deno.mkdir(`${dir}/${name}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${name}`, name);
  }
  await Deno.symlink(`${dir}/b.txt`, `${dir}/link.txt`);
  await Deno.symlink(dir, `${dir}/a/loop`); // a link to a folder is not followed
  const files = await listInputFiles([dir, `${dir}/b.txt`]);
  assert.deepEqual(files.map((f) => f.name), [
    "a/c.txt",
    "a/z.jsonl",
    "b.txt",
    "d.md",
    "link.txt",
    "b.txt",
  ]);
  assert.deepEqual(files[0], { path: `${dir}/a/c.txt`, size: 7, name: "a/c.txt" });
  const some = await listInputFiles([dir], { extensions: [".TXT", ".jsonl"] });
  assert.deepEqual(some.map((f) => f.name), ["a/c.txt", "a/z.jsonl", "b.txt", "link.txt"]);
  // A file given by name is taken whatever its extension.
  assert.equal((await listInputFiles([`${dir}/d.md`], { extensions: [".txt"] })).length, 1);
  await Deno.mkdir(`${dir}/vazio`);
  await assert.rejects(
    () => listInputFiles([`${dir}/vazio`]),
    (e: Error) => e instanceof BenteviError && e.message === `no input files in ${dir}/vazio`,
  );
  await assert.rejects(
    () => listInputFiles([`${dir}/nada`]),
    (e: Error) => e instanceof BenteviError && e.message === `${dir}/nada: file not found`,
  );
  await assert.rejects(() => listInputFiles([]), /no inputs given/);
  await Deno.remove(dir, { recursive: true });
});
