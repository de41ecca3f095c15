import assert from "node:assert/strict";
import {
  buildNativeLibrary,
  createBz2Decompressor,
  isBz2,
  loadNative,
  mapFile,
  readBz2File,
} from "../../src/native/mod.ts";
import { NATIVE_ABI_VERSION } from "../../src/native/loader.ts";
import { BenteviError } from "../../src/errors.ts";
import { tempDir, tempDirSync } from "../_tmp.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const TEXT = `${FIXTURES}texto.txt`;
const SINGLE = `${FIXTURES}texto.txt.bz2`;
const MULTI = `${FIXTURES}texto-multistream.txt.bz2`;
const native = loadNative({ quiet: true });
const paths: (boolean)[] = native ? [true, false] : [false];
if (!native) console.log("native shim unavailable here: only the fallback is tested");

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

async function decompressFile(path: string, useNative: boolean): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of readBz2File(path, { native: useNative })) parts.push(c);
  return concat(parts);
}

function decompressBytes(data: Uint8Array, useNative: boolean, chunk: number): Uint8Array {
  const bz = createBz2Decompressor({ name: "mem.bz2", native: useNative });
  const parts: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(...bz.push(data.subarray(i, i + chunk)));
  parts.push(...bz.end());
  return concat(parts);
}

Deno.test("bz2: single and multi-stream files decompress to the original bytes on both paths", async () => {
  const expected = await Deno.readFile(TEXT);
  for (const useNative of paths) {
    assert.deepEqual(await decompressFile(SINGLE, useNative), expected, `native=${useNative}`);
    assert.deepEqual(await decompressFile(MULTI, useNative), expected, `multi native=${useNative}`);
  }
});

Deno.test("bz2: any chunking of the input gives the same bytes", async () => {
  const data = await Deno.readFile(MULTI);
  const expected = await Deno.readFile(TEXT);
  for (const useNative of paths) {
    for (const chunk of [1, 7, 100, 4096]) {
      assert.deepEqual(decompressBytes(data, useNative, chunk), expected, `chunk ${chunk}`);
    }
  }
});

Deno.test("bz2: native and fallback agree on large multi-block, multi-stream data (bzip2 CLI)", async () => {
  // Deterministic pseudo-text of ~1.5 MB, compressed with -1 (100 kB blocks) in 3 streams.
  const words = ["casa", "rio", "bentevi", "açaí", "pão", "céu", "árvore", "coração", "ônibus"];
  let s = 12345;
  const pieces: string[] = [];
  for (let i = 0; i < 250000; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    pieces.push(words[s % words.length] + ((s >> 8) % 13 === 0 ? ".\n" : " "));
  }
  const text = new TextEncoder().encode(pieces.join(""));
  const third = Math.floor(text.length / 3);
  const compressed: Uint8Array[] = [];
  for (
    const part of [
      text.subarray(0, third),
      text.subarray(third, 2 * third),
      text.subarray(2 * third),
    ]
  ) {
    let out: Deno.CommandOutput;
    try {
      const child = new Deno.Command("bzip2", {
        args: ["-1", "-c"],
        stdin: "piped",
        stdout: "piped",
      })
        .spawn();
      const w = child.stdin.getWriter();
      await w.write(part);
      await w.close();
      out = await child.output();
    } catch {
      console.log("bzip2 command not available: skipped");
      return;
    }
    compressed.push(out.stdout);
  }
  const data = concat(compressed);
  const results = paths.map((n) => decompressBytes(data, n, 65536));
  for (const r of results) assert.deepEqual(r, text);
});

Deno.test("bz2: truncated, corrupt, empty, non-bzip2 input and trailing garbage are clear errors", async () => {
  const data = await Deno.readFile(SINGLE);
  const corrupt = data.slice();
  corrupt[Math.floor(data.length / 2)] ^= 0x55;
  const cases: [string, Uint8Array, RegExp][] = [
    ["truncated", data.subarray(0, data.length - 40), /truncated/],
    ["corrupt", corrupt, /corrupt|truncated/],
    ["empty", new Uint8Array(0), /empty bzip2 file/],
    ["not bz2", new TextEncoder().encode("<mediawiki>não é bzip2</mediawiki>"), /not a bzip2 file/],
    [
      "garbage",
      concat([data, new TextEncoder().encode("lixo no fim do arquivo")]),
      /not bzip2|corrupt|truncated/,
    ],
  ];
  for (const [label, bytes, pattern] of cases) {
    for (const useNative of paths) {
      const bz = createBz2Decompressor({ name: `caso-${label}.bz2`, native: useNative });
      assert.throws(
        () => {
          for (let i = 0; i < bytes.length; i += 64) bz.push(bytes.subarray(i, i + 64));
          bz.end();
        },
        (e: Error) =>
          e instanceof BenteviError && e.message.startsWith(`caso-${label}.bz2: `) &&
          pattern.test(e.message),
        `${label} native=${useNative}`,
      );
      bz.close();
    }
  }
});

Deno.test("bz2: isBz2 recognises stream headers", async () => {
  assert.ok(isBz2(await Deno.readFile(SINGLE)));
  assert.ok(!isBz2(new TextEncoder().encode("BZh0")));
  assert.ok(!isBz2(new Uint8Array(2)));
});

Deno.test("mmap: mapped and read bytes are identical; errors name the file", async () => {
  const expected = await Deno.readFile(TEXT);
  const read = mapFile(TEXT, { native: false });
  assert.equal(read.mapped, false);
  assert.deepEqual(read.bytes, expected);
  if (native) {
    const m = mapFile(TEXT, { native: true, advice: "sequential" });
    assert.equal(m.mapped, true);
    assert.deepEqual(m.bytes, expected);
    m.close();
    m.close();
    const empty = await Deno.makeTempFile();
    try {
      const e = mapFile(empty, { native: true });
      assert.equal(e.bytes.length, 0);
      e.close();
    } finally {
      await Deno.remove(empty);
    }
  }
  for (const useNative of paths) {
    assert.throws(
      () => mapFile("/nao/existe.bin", { native: useNative }),
      (e: Error) => e instanceof BenteviError && e.message === "/nao/existe.bin: file not found",
    );
  }
});

Deno.test({
  name: "native shim: builds from its embedded source into any folder, loads, and stays loaded",
  ignore: !native,
  fn: () => {
    using tmp = tempDirSync();
    const dir = tmp.path;
    const lib = buildNativeLibrary({ outDir: dir });
    const symbols = {
      bn_abi_version: { parameters: [], result: "i32" },
      bn_set_threads: { parameters: ["i32"], result: "i32" },
      bn_get_threads: { parameters: [], result: "i32" },
    } as const;
    const dl = Deno.dlopen(lib, symbols);
    assert.equal(dl.symbols.bn_abi_version(), NATIVE_ABI_VERSION);
    const threads = dl.symbols.bn_set_threads(2);
    dl.close();
    assert.equal(Deno.readTextFileSync(`${lib}.hash`).trim().length, 8);
    // Pinned: the pool's threads outlive a dlclose (Deno closes a library when the isolate that
    // opened it ends), so the code under them stays mapped — reopening finds the same copy.
    const again = Deno.dlopen(lib, symbols);
    assert.equal(again.symbols.bn_get_threads(), threads);
    again.close();
  },
});

Deno.test({
  name: "native shim: a missing compiler is a clear error",
  ignore: Deno.build.os !== "linux",
  fn: () => {
    using tmp = tempDirSync();
    assert.throws(
      () => buildNativeLibrary({ outDir: tmp.path, cc: "no-such-cc-bentevi" }),
      (e: Error) => e instanceof BenteviError && /not found/.test(e.message),
    );
  },
});

const SHARED = new URL("../../../shared/data/wiki/", import.meta.url).pathname;
let sharedExists = false;
try {
  sharedExists = Deno.statSync(SHARED).isDirectory;
} catch { /* absent */ }

Deno.test({
  name: "bz2: real dumps from ../shared decompress identically on both paths",
  ignore: !sharedExists || !native,
  fn: async () => {
    for (const name of ["dbpedia-minidump-pt-wiki.xml.bz2", "gensim-enwiki-table-markup.xml.bz2"]) {
      const a = await decompressFile(SHARED + name, true);
      const b = await decompressFile(SHARED + name, false);
      assert.ok(a.length > 10000);
      assert.deepEqual(a, b);
    }
  },
});
if (!sharedExists) console.log("../shared/data absent: shared-data tests skipped");

Deno.test({
  name: "native shim: a read-only install (as from a URL) builds into the cache folder",
  ignore: !native,
  fn: async () => {
    await using tmp = await tempDir();
    const root = tmp.path;
    const src = new URL("../../", import.meta.url).pathname;
    // a copy of the loader without ffi/build, which the child may not write to
    await Deno.mkdir(`${root}/app/src/native`, { recursive: true });
    await Deno.mkdir(`${root}/app/ffi`);
    for (
      const f of [
        "src/errors.ts",
        "ffi/bentevi_native.c",
        "ffi/bentevi_kernels.c",
        "ffi/bentevi_native.h",
      ]
    ) {
      await Deno.copyFile(`${src}${f}`, `${root}/app/${f}`);
    }
    for (const f of ["build.ts", "loader.ts"]) {
      await Deno.copyFile(`${src}src/native/${f}`, `${root}/app/src/native/${f}`);
    }
    await Deno.writeTextFile(
      `${root}/app/main.ts`,
      'import { loadNative } from "./src/native/loader.ts";\nconsole.log(loadNative()?.path ?? "none");\n',
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        "--allow-read",
        "--allow-env",
        "--allow-ffi",
        "--allow-run",
        `--allow-write=${root}/cache`,
        `${root}/app/main.ts`,
      ],
      env: { XDG_CACHE_HOME: `${root}/cache` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const path = new TextDecoder().decode(out.stdout).trim();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(
      path,
      new RegExp(`^${root}/cache/bentevi/native-[0-9a-f]{8}/libbentevi_native\\.so$`),
    );
    assert.throws(() => Deno.statSync(`${root}/app/ffi/build`));
  },
});

Deno.test("bz2: a block that expands far beyond the output buffer is fully drained (both paths)", async () => {
  // 6 MB of one byte: bzip2's run-length stages make a few hundred compressed bytes of it
  const size = 6 << 20;
  let compressed: Uint8Array;
  try {
    const child = new Deno.Command("bzip2", { args: ["-c"], stdin: "piped", stdout: "piped" })
      .spawn();
    const w = child.stdin.getWriter();
    await w.write(new Uint8Array(size).fill(0x61));
    await w.close();
    compressed = (await child.output()).stdout;
  } catch {
    console.log("bzip2 command not available: skipped");
    return;
  }
  for (const useNative of paths) {
    const out = decompressBytes(compressed, useNative, compressed.length); // one push
    assert.equal(out.length, size);
    assert.ok(out.every((b) => b === 0x61));
    let n = 0;
    await using tmp = await tempDir();
    const path = `${tmp.path}/a.bz2`;
    await Deno.writeFile(path, compressed);
    for await (const c of readBz2File(path, { native: useNative })) n += c.length;
    assert.equal(n, size);
  }
});

Deno.test({
  name: "native shim: the hot loops run their x86-64-v3 (AVX2 + FMA) clone on a CPU that has it",
  ignore: !native,
  fn: () => {
    // The clones were once `arch=haswell`, which GCC's resolver picks by CPU model: every CPU but
    // a Haswell ran the baseline clone, unnoticed (results are the same, only slower).
    // The CPU's features are asked for directly (__builtin_cpu_supports), not through a resolver
    // (and not from /proc/cpuinfo, which Deno lets only --allow-all read).
    const clone = native!.symbols.bn_simd_clone(), level = native!.symbols.bn_cpu_level();
    if (clone === -1 || level === -1) {
      console.log("no x86-64-v3 clones in this build (another compiler or platform, or GCC < 12)");
      return;
    }
    assert.equal(clone, level, `clone ${clone} on a CPU of level ${level} (3: x86-64-v3)`);
  },
});
