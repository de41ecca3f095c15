// The chat page end to end in headless Chromium (Debian's `chromium`, driven by playwright-core
// in its own process: see _browser.ts): type a message, see the answer stream in with the
// sources of a grounded answer, switch persona, open the educational panel. The screenshot goes
// to $BENTEVI_TEST_ARTIFACTS (default <tmp>/bentevi-test-artifacts/serve-page.png). Skipped,
// with a message, without Chromium.
import assert from "node:assert/strict";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { startServe, tinyCheckpoints } from "./_fixture.ts";
import { buildIndex } from "../../src/retrieval/build.ts";
import { writeRandomAdapter } from "../finetune/_adapters.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!hasChromium) {
  console.warn(`skipping the chat page test: ${CHROMIUM} is absent (apt-get install -y chromium)`);
}

Deno.test({
  name:
    "serve: the chat page in headless Chromium — a streamed answer with sources, persona switch, adapter choice, educational panel with attention",
  ignore: !hasChromium,
  fn: async () => {
    const ckpt = await tinyCheckpoints(1024);
    const dir = Deno.env.get("BENTEVI_TEST_ARTIFACTS") ?? join(tmpdir(), "bentevi-test-artifacts");
    await Deno.mkdir(dir, { recursive: true });
    const shot = join(dir, "serve-page.png");
    await Deno.remove(shot).catch(() => {});
    // An index, so the page shows the sources of a grounded answer.
    await Deno.writeTextFile(
      `${ckpt.root}/cometa.txt`,
      "O Cometa Valadares foi avistado em 1911 por Joaquim Valadares, em Minas Gerais.\n",
    );
    await buildIndex([`${ckpt.root}/cometa.txt`], { index: `${ckpt.root}/i.db` });
    // An adapter, so the page offers a model choice.
    await writeRandomAdapter(`${ckpt.root}/jur`, ckpt.gpt, 11, 0.5);
    const { url, child } = await startServe([
      "--checkpoint",
      ckpt.gpt,
      "--device",
      "cpu",
      "--index",
      `${ckpt.root}/i.db`,
      "--adapter",
      `jur=${ckpt.root}/jur`,
    ]);
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", fileURLToPath(new URL("./_browser.ts", import.meta.url)), url, shot],
        env: { NO_COLOR: "1" },
      }).output();
      const dec = new TextDecoder();
      assert.equal(out.code, 0, dec.decode(out.stderr) + dec.decode(out.stdout));
      assert.match(dec.decode(out.stdout), /browser checks passed/);
      assert.ok((await Deno.stat(shot)).size > 10_000, "a screenshot");
      console.log(`screenshot: ${shot}`);
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(ckpt.root, { recursive: true });
    }
  },
});
