import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import {
  bytePosition,
  ChunkDecoder,
  decodeLatin1,
  decodeTextStream,
  decodeTextStrict,
  findInvalidUtf8,
  InvalidUtf8Error,
  parseEncoding,
  readTextChunks,
} from "../../src/text/mod.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const join = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

Deno.test("findInvalidUtf8 accepts valid text and finds each kind of bad sequence", () => {
  assertEquals(findInvalidUtf8(enc("ação 😀 — ok")), -1);
  assertEquals(findInvalidUtf8(new Uint8Array([0x61, 0x80])), 1, "stray continuation");
  assertEquals(findInvalidUtf8(new Uint8Array([0xc0, 0x80])), 0, "overlong");
  assertEquals(findInvalidUtf8(new Uint8Array([0x61, 0xed, 0xa0, 0x80])), 1, "surrogate");
  assertEquals(findInvalidUtf8(new Uint8Array([0xf4, 0x90, 0x80, 0x80])), 0, "above U+10FFFF");
  assertEquals(findInvalidUtf8(new Uint8Array([0x61, 0xe3, 0x81])), 1, "truncated");
  assertEquals(
    findInvalidUtf8(new Uint8Array([0x61, 0xe3, 0x81]), true),
    -1,
    "partial end allowed",
  );
});

Deno.test("decodeTextStrict names the byte, line and column of invalid UTF-8", () => {
  const bytes = join(enc("linha um\nação "), new Uint8Array([0xe9]), enc(" fim"));
  const err = (() => {
    try {
      decodeTextStrict(bytes, { path: "x.txt" });
    } catch (e) {
      return e;
    }
  })();
  assert(err instanceof BenteviError);
  assertEquals(
    err.message,
    "x.txt: invalid UTF-8 at byte 16 (line 2, column 6); if the file is Latin-1, pass --encoding latin1",
  );
  assertEquals(decodeTextStrict(new Uint8Array([0x63, 0xe3, 0x6f]), { encoding: "latin1" }), "cão");
  throws(() => decodeTextStrict(bytes, { encoding: "klingon" }), /unknown encoding/);
  assertEquals(bytePosition(enc("a\nbç"), 4), { offset: 4, line: 2, column: 3 });
});

Deno.test("decodeTextStream joins characters split across chunks and locates errors in the stream", async () => {
  const text = "Olá, ação! 😀 — fim.\n".repeat(50);
  const bytes = enc(text);
  for (const size of [1, 2, 3, 7, 64]) {
    const parts = async function* () {
      for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
    };
    let s = "";
    for await (const p of decodeTextStream(parts())) s += p;
    assertEquals(s, text);
  }
  const bad = join(bytes, enc("x\n"), new Uint8Array([0xff]), enc("y"));
  for (const size of [1, 5, 1000]) {
    const parts = async function* () {
      for (let i = 0; i < bad.length; i += size) yield bad.slice(i, i + size);
    };
    const e = await (async () => {
      try {
        for await (const _ of decodeTextStream(parts(), { path: "s.txt" })) { /* drain */ }
      } catch (e) {
        return e as Error;
      }
    })();
    assert(e instanceof BenteviError, `size ${size}`);
    assert(
      e.message.startsWith(`s.txt: invalid UTF-8 at byte ${bytes.length + 2} (line 52`),
      e.message,
    );
  }
  // a sequence cut off by the end of the stream
  async function* truncated() {
    yield enc("abc");
    yield new Uint8Array([0xe3, 0x81]);
  }
  const e = await (async () => {
    try {
      for await (const _ of decodeTextStream(truncated(), { path: "t.txt" })) { /* drain */ }
    } catch (e) {
      return e as Error;
    }
  })();
  assert(e instanceof BenteviError);
  assert(e.message.startsWith("t.txt: invalid UTF-8 at byte 3 (line 1"), e.message);
});

Deno.test("parseEncoding: one set of names for every command", () => {
  assertEquals(parseEncoding("UTF8"), "utf-8");
  assertEquals(parseEncoding("ISO_8859-1"), "latin1");
  assertEquals(parseEncoding("cp1252"), "windows-1252");
  throws(() => parseEncoding("utf-16le"), /unknown encoding "utf-16le"; use utf-8, latin1/);
  // ISO-8859-1 keeps 0x80–0x9F as C1 characters; Windows-1252 maps them.
  const bytes = new Uint8Array([0x97, 0xe7]);
  assertEquals(decodeLatin1(bytes), "\u0097ç");
  assertEquals(decodeTextStrict(bytes, { encoding: "windows-1252" }), "—ç");
});

Deno.test("ChunkDecoder: any cut point joins characters and locates a bad byte exactly", () => {
  const good = enc("açã 😀 — ok\n");
  for (let cut = 0; cut <= good.length; cut++) {
    const d = new ChunkDecoder("utf-8");
    const s = d.decode(good.subarray(0, cut)) + d.decode(good.subarray(cut)) + d.end();
    assertEquals(s, "açã 😀 — ok\n", `cut ${cut}`);
  }
  // 0xf0 0x9f then "a": the bad sequence starts at byte 3, wherever the chunks are cut.
  const bad = join(enc("abc"), new Uint8Array([0xf0, 0x9f]), enc("a"));
  for (let cut = 0; cut <= bad.length; cut++) {
    const d = new ChunkDecoder("utf-8");
    const e = (() => {
      try {
        d.decode(bad.subarray(0, cut), 100);
        d.decode(bad.subarray(cut));
        d.end();
      } catch (e) {
        return e as { offset: number };
      }
    })();
    assertEquals(e?.offset, 103, `cut ${cut}`);
  }
  let reported = -1;
  const lenient = new ChunkDecoder("utf-8", { onInvalidUtf8: (o) => reported = o });
  assertEquals(lenient.decode(bad) + lenient.end(), "abc\ufffda");
  assertEquals(reported, 3);
});

Deno.test("readTextChunks: invalid UTF-8 after the first chunk and inside a range says where", async () => {
  const dir = await Deno.makeTempDir();
  const bytes = join(enc("um\ndois\nação "), new Uint8Array([0xff]), enc("\nfim\n"));
  await Deno.writeFile(`${dir}/x.txt`, bytes);
  for (const range of [{ start: 0 }, { start: 5 }]) {
    for (const chunkBytes of [1, 4, 100]) {
      const e = await (async () => {
        try {
          for await (const _ of readTextChunks(`${dir}/x.txt`, { chunkBytes, range })) { /* */ }
        } catch (e) {
          return e as Error;
        }
      })();
      assert(e instanceof InvalidUtf8Error);
      assertEquals(
        e.message,
        `${dir}/x.txt: invalid UTF-8 at byte 15 (line 3, column 6); if the file is Latin-1, pass --encoding latin1`,
      );
    }
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("decodeTextStream: a sequence cut over one-byte chunks is located at its first byte", async () => {
  const bytes = join(enc("ab\nç"), new Uint8Array([0xe3, 0x81]), enc("x"));
  async function* ones() {
    for (const b of bytes) yield new Uint8Array([b]);
  }
  const e = await (async () => {
    try {
      for await (const _ of decodeTextStream(ones(), { path: "u.txt" })) { /* drain */ }
    } catch (e) {
      return e as Error;
    }
  })();
  assert(e instanceof InvalidUtf8Error);
  assertEquals(e.position.offset, 5);
  assertEquals(e.position.line, 2);
});

Deno.test("ChunkDecoder on chunks over 64 KiB (decoded in pieces, non-fatally): same text, a U+FFFD of the text kept, a bad byte found exactly", () => {
  // 3-byte and 4-byte characters straddle every 64 KiB piece boundary; a real U+FFFD inside
  const text = ("x".repeat(65_533) + "—😀\ufffdç").repeat(4);
  const bytes = enc(text);
  assert(bytes.length > 4 * 65_536);
  for (const cut of [0, 1, 65_535, 65_536, 131_071, bytes.length]) {
    const d = new ChunkDecoder("utf-8");
    const pieces = [
      ...d.decodePieces(bytes.subarray(0, cut)),
      ...d.decodePieces(bytes.subarray(cut)),
    ];
    assert(pieces.length > 4, "big chunks come back in pieces");
    assertEquals(pieces.join("") + d.end(), text, `cut ${cut}`);
  }
  // one bad byte just after a piece boundary, and one cut character at the very end
  for (const at of [65_536, 65_537, 200_000]) {
    const bad = bytes.slice();
    bad[at] = 0xff;
    const e = (() => {
      try {
        const d = new ChunkDecoder("utf-8");
        d.decode(bad, 10);
        d.end();
      } catch (e) {
        return e as { offset: number };
      }
    })();
    assertEquals(e?.offset, 10 + findInvalidUtf8(bad), `bad byte at ${at}`);
  }
  const d = new ChunkDecoder("utf-8");
  d.decode(bytes.subarray(0, 65_535)); // ends inside "—"
  throws(() => d.end());
});
