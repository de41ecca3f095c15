/**
 * tokenizer.json files that lie about their ids (issue 13, item 5): far-off added-token ids
 * (1e9 made `encode` take 48 s and gigabytes; 2^53 was accepted), duplicate vocabulary ids,
 * an added token contradicting the vocabulary. All refused with one line naming the file;
 * the real tokenizers in ../shared/data still load.
 */
import assert from "node:assert/strict";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import { BenteviError } from "../../src/errors.ts";

const SHARED = new URL("../../../shared/data/tokenizer/", import.meta.url).pathname;

function base(): Record<string, unknown> & {
  model: { vocab: Record<string, number> };
  added_tokens: Record<string, unknown>[];
} {
  const j = JSON.parse(JSON.stringify(Tokenizer.byteLevel().toJSON()));
  j.added_tokens = [{ id: 256, content: "[EOS]", special: true }];
  return j;
}

function refused(json: unknown, re: RegExp): void {
  assert.throws(() => Tokenizer.fromJSON(json, "lie.json"), (e: Error) => {
    assert.ok(e instanceof BenteviError, String(e));
    assert.match(e.message, /^lie\.json: invalid tokenizer\.json: /);
    assert.match(e.message, re);
    assert.ok(!e.message.includes("\n"));
    return true;
  });
}

Deno.test("tokenizer.json: far-off and conflicting ids are refused by name", () => {
  assert.equal(Tokenizer.fromJSON(base(), "ok.json").vocabSize, 257);
  for (const id of [1e9, 2 ** 53]) {
    const j = base();
    j.added_tokens[0].id = id;
    refused(j, new RegExp(`added_tokens\\[0\\] "\\[EOS\\]" has id ${id}, far past the 257 tokens`));
  }
  const far = base();
  far.model.vocab["Ā"] = 5_000_000;
  refused(far, /model\.vocab\["Ā"\] has id 5000000, far past/);

  const dup = base();
  const first = Object.keys(dup.model.vocab)[0];
  dup.model.vocab[Object.keys(dup.model.vocab)[1]] = dup.model.vocab[first];
  refused(dup, new RegExp(`model\\.vocab gives id ${dup.model.vocab[first]} to both`));

  const clash = base();
  clash.added_tokens[0].id = 65; // the id of "b"... in the byte vocabulary
  refused(clash, /added_tokens\[0\] "\[EOS\]" has id 65, already the id of/);

  const moved = base();
  moved.added_tokens[0].content = first; // a vocabulary token under another id
  refused(moved, new RegExp(`has id 256, but model\\.vocab gives it ${moved.model.vocab[first]}`));

  const twice = base();
  twice.added_tokens.push({ id: 257, content: "[EOS]", special: true });
  refused(twice, /added_tokens\[1\] "\[EOS\]" is listed twice, with ids 256 and 257/);

  // Same token, same id, in both the vocabulary and added_tokens (GPT-2's <|endoftext|>): fine.
  const same = base();
  same.added_tokens[0] = { id: same.model.vocab[first], content: first, special: true };
  assert.equal(Tokenizer.fromJSON(same, "same.json").vocabSize, 256);
});

Deno.test({
  name: "tokenizer.json: a real tokenizer with added tokens past its vocabulary still loads",
  ignore: (() => {
    try {
      Deno.statSync(SHARED);
      return false;
    } catch {
      return true;
    }
  })(),
  fn: async () => {
    for (const name of ["llama3"]) {
      const path = `${SHARED}${name}/tokenizer.json`;
      try {
        Deno.statSync(path);
      } catch {
        continue;
      }
      const tok = await Tokenizer.fromFile(path);
      assert.ok(tok.vocabSize > 1000, name);
    }
  },
});
