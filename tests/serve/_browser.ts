// Run by browser.test.ts as its own process (-A: playwright-core reads /proc, which Deno gates
// behind --allow-all): headless Chromium on the chat page of a running `bentevi serve` — type a
// message, see the answer stream in, switch persona, pick a LoRA adapter, open the educational
// panel (candidates and the last block's attention); a screenshot.
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const [base, screenshot] = Deno.args;
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true });
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  page.setDefaultTimeout(60_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const bodies: Record<string, unknown>[] = [];
  page.on("request", (r) => {
    if (r.url().endsWith("/v1/chat/completions")) bodies.push(JSON.parse(r.postData() ?? "{}"));
  });
  // The server-sent events each answer came in, to compare the panel with.
  const streams: Promise<string>[] = [];
  page.on("response", (r) => {
    if (r.url().endsWith("/v1/chat/completions") && r.ok()) streams.push(r.text());
  });
  await page.goto(base);
  await page.waitForSelector("body[data-ready=true]");
  assert.match(await page.textContent("#model") ?? "", /gpt — GPT: vocab 260/);
  // The server has one adapter: the model choice offers the base and it.
  assert.equal(await page.isVisible("#model-row"), true);
  assert.deepEqual(
    await page.evaluate<string[]>(
      '[...document.querySelectorAll("#model-choice option")].map((o) => o.value)',
    ),
    ["gpt", "jur"],
  );
  await page.fill("#max-tokens", "40");
  await page.fill("#seed", "3");

  // Count the distinct texts the answer shows while it streams.
  // (Browser-side code as strings: this file is type-checked without the DOM library.)
  await page.evaluate(`
    window.seen = new Set();
    new MutationObserver(() => {
      const last = document.querySelector(".msg.assistant:last-of-type .body");
      if (last) window.seen.add(last.textContent);
    }).observe(document.getElementById("messages"), {
      childList: true, subtree: true, characterData: true,
    });
  `);
  await page.fill("#input", "Quem avistou o cometa Valadares?");
  await page.press("#input", "Enter");
  await page.waitForSelector(".msg.assistant[data-state=done]");
  const first = await page.textContent(".msg.assistant .body");
  assert.ok(first && first.length > 0, "an answer");
  const seen = await page.evaluate<number>("window.seen.size");
  assert.ok(seen >= 3, `the answer streamed in pieces (${seen} states seen)`);
  assert.match(await page.textContent(".msg.assistant") ?? "", /tokens\/s/);
  // The server has an index: the answer lists its sources.
  assert.match(await page.textContent(".msg.assistant .sources li") ?? "", /^\[1\] .*cometa\.txt/);
  assert.equal(bodies[0].stream, true);
  assert.equal(bodies[0].persona, undefined);
  assert.equal(bodies[0].model, "gpt");

  // Switch persona: the next request carries it, and its answer streams too.
  await page.selectOption("#persona", "formal");
  await page.fill("#input", "E agora, com formalidade?");
  await page.press("#input", "Enter");
  await page.waitForFunction(
    'document.querySelectorAll(".msg.assistant[data-state=done]").length === 2',
  );
  assert.equal(bodies[1].persona, "formal");
  assert.deepEqual(
    (bodies[1].messages as { role: string }[]).map((m) => m.role),
    ["user", "assistant", "user"],
  );
  assert.match(await page.textContent(".msg.assistant:last-of-type .meta") ?? "", /persona formal/);

  // The educational panel, on the adapter: explain on, click a token, see its candidates and
  // where the last block's heads looked.
  await page.selectOption("#model-choice", "jur");
  await page.check("#explain");
  await page.fill("#input", "Explique.");
  await page.press("#input", "Enter");
  await page.waitForFunction(
    'document.querySelectorAll(".msg.assistant[data-state=done]").length === 3',
  );
  assert.equal(bodies[2].explain, true);
  assert.equal(bodies[2].model, "jur");
  assert.match(await page.textContent(".msg.assistant:last-of-type .meta") ?? "", /adaptador jur/);
  await page.click(".msg.assistant:last-of-type .tok >> nth=2");
  await page.waitForSelector("#edu-detail table tr:nth-child(6)");
  assert.match(await page.textContent("#edu-detail") ?? "", /probabilidade \d/);
  await page.waitForSelector("#edu-detail .attention .att");
  // The attention view of the first token behind the clicked piece: the tiny GPT's 2 heads of
  // block 1 (its last), each with its 3 strongest positions, as numbers the server computed.
  const att = await page.evaluate<
    { title: string; heads: { head: string; items: { w: number; p: number; text: string }[] }[] }
  >(`(() => {
    const box = document.querySelector("#edu-detail .attention");
    return {
      title: box.querySelector("h3").textContent,
      heads: [...box.querySelectorAll("tr")].slice(1).map((row) => ({
        head: row.cells[0].textContent,
        items: [...row.querySelectorAll(".att")].map((d) => ({
          w: Number(d.dataset.weight), p: Number(d.dataset.position), text: d.textContent,
        })),
      })),
    };
  })()`);
  const positions = Number(/sobre (\d+) posições/.exec(att.title)?.[1]);
  assert.match(att.title, /^Atenção — bloco 1 \(o último\), sobre \d+ posições$/);
  assert.ok(positions > 10, `the prompt and the answer so far: ${att.title}`);
  assert.deepEqual(att.heads.map((h) => h.head), ["0", "1"]);
  // The same numbers as the server sent for that token (the third piece with explain steps).
  const explained = (await streams[2]).split("\n\n").filter((e) => e.startsWith("data: {"))
    // deno-lint-ignore no-explicit-any
    .map((e) => JSON.parse(e.slice(6))).filter((c: any) => c.choices?.[0]?.explain);
  const sent = explained[2].choices[0].explain[0].attention;
  assert.equal(sent.positions, positions);
  assert.deepEqual(
    att.heads.map((h) => h.items.map((i) => [i.p, i.w])),
    // deno-lint-ignore no-explicit-any
    sent.heads.map((h: any) => h.top.map((t: any) => [t.position, t.weight])),
  );
  for (const h of att.heads) {
    const w = h.items.map((i) => i.w);
    assert.equal(w.length, 3);
    assert.ok(w.every((x) => x > 0 && x <= 1), `weights in (0, 1]: ${w}`);
    assert.ok(w[0] >= w[1] && w[1] >= w[2], `strongest first: ${w}`);
    assert.ok(w[0] + w[1] + w[2] <= 1 + 1e-6, `one softmax row: ${w}`);
    for (const i of h.items) {
      assert.ok(Number.isInteger(i.p) && i.p >= 0 && i.p < positions, `position ${i.p}`);
      assert.match(i.text, new RegExp(`@${i.p} \\d+(\\.\\d)?%$`));
    }
  }
  assert.deepEqual(errors, []);
  await page.locator("#edu-detail .attention").scrollIntoViewIfNeeded();
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log("browser checks passed");
} catch (e) {
  // What the page showed, for the failure message.
  const pages = browser.contexts().flatMap((c) => c.pages());
  if (pages[0]) console.error(`page text: ${await pages[0].textContent("#messages")}`);
  throw e;
} finally {
  await browser.close();
}
