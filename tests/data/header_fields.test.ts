/**
 * llm.c token files whose header lies (issue 13, item 5): `dataset info` accepted a header
 * vocabulary of −5 or 2^31−1; a uint16 file claiming more than 65,536 tokens, or a uint32 file
 * holding an id past any vocabulary, were believed. Each is refused naming the file and field;
 * 0 still means "unknown" (llm.c writes 0 there).
 */
import assert from "node:assert/strict";
import { datasetInfo } from "../../src/data/mod.ts";
import { formatDatasetInfo } from "../../src/data/dataset/info.ts";
import { encodeHeader } from "../../src/data/dataset/format.ts";
import { BenteviError } from "../../src/errors.ts";

async function tokenFile(
  path: string,
  header: { version: 1 | 2; vocab: number },
  tokens: number[],
): Promise<void> {
  const h = encodeHeader({ version: header.version, count: tokens.length, vocabSize: 0 });
  new DataView(h.buffer).setInt32(12, header.vocab, true);
  const body = header.version === 1 ? new Uint16Array(tokens) : new Uint32Array(tokens);
  const out = new Uint8Array(h.length + body.byteLength);
  out.set(h);
  out.set(new Uint8Array(body.buffer), h.length);
  await Deno.writeFile(path, out);
}

Deno.test("dataset info: a header vocabulary that cannot be is refused by name; 0 is unknown", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const refused = async (
      name: string,
      header: { version: 1 | 2; vocab: number },
      tokens: number[],
      re: RegExp,
    ) => {
      await tokenFile(`${dir}/${name}`, header, tokens);
      await assert.rejects(() => datasetInfo(`${dir}/${name}`), (e: Error) => {
        assert.ok(e instanceof BenteviError, String(e));
        assert.ok(e.message.startsWith(`${dir}/${name}: `), e.message);
        assert.match(e.message, re);
        return true;
      });
    };
    await refused("neg.bin", { version: 1, vocab: -5 }, [1, 2], /vocab_size \(byte 12\) is -5/);
    await refused(
      "huge.bin",
      { version: 2, vocab: 2 ** 31 - 1 },
      [1, 2],
      /vocab_size \(byte 12\) is 2147483647; the largest vocabulary accepted is 16777216/,
    );
    await refused("u16.bin", { version: 1, vocab: 70000 }, [1, 2], /uint16 tokens/);
    await refused("far.bin", { version: 2, vocab: 0 }, [1, 4e9], /token id 4000000000 is past/);

    await tokenFile(`${dir}/zero.bin`, { version: 1, vocab: 0 }, [3, 3, 5]);
    const info = await datasetInfo(`${dir}/zero.bin`);
    assert.equal(info.headerVocabSize, 0);
    assert.match(formatDatasetInfo(info), /vocab unknown/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
