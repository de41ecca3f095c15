// Run by browser.test.ts as its own process (-A: playwright-core reads /proc, which Deno gates
// behind --allow-all): headless Chromium on the chat page of a running `bentevi serve` — type a
// message, see the answer stream in, switch persona, open the educational panel; a screenshot.
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
  await page.goto(base);
  await page.waitForSelector("body[data-ready=true]");
  assert.match(await page.textContent("#model") ?? "", /gpt — GPT: vocab 260/);
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

  // The educational panel: explain on, click a token, see its candidates.
  await page.check("#explain");
  await page.fill("#input", "Explique.");
  await page.press("#input", "Enter");
  await page.waitForFunction(
    'document.querySelectorAll(".msg.assistant[data-state=done]").length === 3',
  );
  assert.equal(bodies[2].explain, true);
  await page.click(".msg.assistant:last-of-type .tok >> nth=2");
  await page.waitForSelector("#edu-detail table tr:nth-child(6)");
  assert.match(await page.textContent("#edu-detail") ?? "", /probabilidade \d/);
  assert.deepEqual(errors, []);
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
