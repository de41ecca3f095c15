// mod.ts must work without this project's import map, as it does when a program imports it
// from a URL: every third-party import in the library has to be a full specifier (src/deps.ts).
import assert from "node:assert/strict";
import { tempDir } from "./_tmp.ts";

Deno.test("mod.ts loads without the project's deno.json (as from a URL)", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const script = `${dir}/use.ts`;
  const mod = new URL("../mod.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { chunkText, Tokenizer, WikiXmlParser } from ${JSON.stringify(mod)};\n` +
      `const tok = Tokenizer.byteLevel();\n` +
      `console.log(JSON.stringify({ ids: tok.encode("olá").length, parser: typeof WikiXmlParser,` +
      ` chunks: chunkText("Uma frase. Outra frase.", { strategy: "sentence", maxTokens: 12 }).length }));\n`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "--no-lock", "--allow-read", "--allow-env", script],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
  assert.deepEqual(result, { ids: 4, parser: "function", chunks: 2 });
});
