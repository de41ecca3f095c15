import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import { VIEW_ALIGN } from "../../src/backend/backend.ts";
import { assertClose, dotLoss, randomTensorData } from "./_helpers.ts";
import { checkGradients } from "./gradcheck.ts";

const SIZES = [1, 3, 17, 127];

Deno.test("cpu: memory ops — zeros, fromArray, write, read, copy, fill, views alias", async () => {
  const cpu = new CpuBackend();
  const base = cpu.zeros([3, VIEW_ALIGN]);
  assert.deepEqual(base.shape, [3, VIEW_ALIGN]);
  assert.equal(base.size, 3 * VIEW_ALIGN);
  const row1 = cpu.view(base, VIEW_ALIGN, [VIEW_ALIGN]);
  cpu.fill(row1, 2);
  const all = await cpu.read(base);
  assert.equal(all[VIEW_ALIGN - 1], 0);
  assert.equal(all[VIEW_ALIGN], 2);
  assert.equal(all[2 * VIEW_ALIGN], 0);
  cpu.write(base, new Float32Array([5, 6]), VIEW_ALIGN + 1);
  assert.deepEqual([...(await cpu.read(row1)).slice(0, 3)], [2, 5, 6]);
  const src = cpu.fromArray([2], new Float32Array([7, 8]));
  const dst = cpu.zeros([2]);
  cpu.copy(dst, src);
  assert.deepEqual([...await cpu.read(dst)], [7, 8]);
  const ids = cpu.fromArray([3], new Int32Array([1, -2, 3]));
  assert.equal(ids.dtype, "i32");
  assert.deepEqual([...await cpu.read(ids)], [1, -2, 3]);
  // read returns a copy, not the live storage.
  (await cpu.read(dst))[0] = 100;
  assert.equal((await cpu.read(dst))[0], 7);
  assert.throws(() => cpu.view(base, 1, [2]), /multiple of 64/);
  assert.throws(() => cpu.view(base, 2 * VIEW_ALIGN, [VIEW_ALIGN + 1]), /does not fit/);
  assert.throws(() => cpu.fromArray([2, 2], new Float32Array(3)), /\[2, 2\] needs 4/);
  cpu.free(src);
  assert.throws(() => cpu.copy(dst, src), /after free/);
});

Deno.test("cpu: elementwise forward ops match their formulas", async () => {
  const cpu = new CpuBackend();
  for (const n of SIZES) {
    const a = randomTensorData(n, 1), b = randomTensorData(n, 2);
    const ta = cpu.fromArray([n], a), tb = cpu.fromArray([n], b), out = cpu.zeros([n]);
    cpu.add(out, ta, tb);
    assertClose(await cpu.read(out), a.map((x, i) => x + b[i]), 0, `add n=${n}`);
    cpu.mul(out, ta, tb);
    assertClose(await cpu.read(out), a.map((x, i) => x * b[i]), 0, `mul n=${n}`);
    cpu.copy(out, ta);
    cpu.addInto(out, tb, 0.5);
    assertClose(await cpu.read(out), a.map((x, i) => Math.fround(x + 0.5 * b[i])), 1e-7, `addInto`);
    cpu.scale(out, 3);
    assertClose(await cpu.read(out), a.map((x, i) => 3 * (x + 0.5 * b[i])), 1e-6, `scale`);
    cpu.gelu(out, ta);
    const gelu = (x: number) =>
      0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    assertClose(await cpu.read(out), Array.from(a, gelu), 1e-6, `gelu n=${n}`);
    cpu.reluSquared(out, ta);
    assertClose(await cpu.read(out), Array.from(a, (x) => Math.max(x, 0) ** 2), 1e-7, `relu²`);
    cpu.sigmoid(out, ta);
    assertClose(await cpu.read(out), Array.from(a, (x) => 1 / (1 + Math.exp(-x))), 1e-6, `σ`);
  }
  // GELU's known values (GPT-2's gelu_new): gelu(1) = 0.841192, gelu(−3) = −0.003637.
  const x = cpu.fromArray([2], new Float32Array([1, -3])), y = cpu.zeros([2]);
  cpu.gelu(y, x);
  assertClose(await cpu.read(y), [0.8411920, -0.0036373], 1e-6, "gelu known values");
});

Deno.test("cpu: reductions — sum, sumSquares, sumRows (with accumulate)", async () => {
  const cpu = new CpuBackend();
  for (const [M, N] of [[1, 1], [3, 17], [17, 3], [127, 5]]) {
    const x = randomTensorData(M * N, M + N);
    const t = cpu.fromArray([M, N], x);
    const s = cpu.zeros([1]);
    cpu.sum(s, t);
    assertClose(await cpu.read(s), [x.reduce((p, v) => p + v, 0)], 1e-6, "sum");
    cpu.sum(s, t, true);
    assertClose(await cpu.read(s), [2 * x.reduce((p, v) => p + v, 0)], 1e-6, "sum accumulate");
    cpu.sumSquares(s, t);
    assertClose(await cpu.read(s), [x.reduce((p, v) => p + v * v, 0)], 1e-6, "sumSquares");
    const rows = cpu.zeros([N]);
    cpu.sumRows(rows, t);
    const expected = new Float64Array(N);
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) expected[n] += x[m * N + n];
    assertClose(await cpu.read(rows), expected, 1e-5, "sumRows");
    cpu.sumRows(rows, t, true);
    assertClose(await cpu.read(rows), expected.map((v) => 2 * v), 1e-5, "sumRows accumulate");
  }
});

Deno.test("cpu: argmaxRows and topK", async () => {
  const cpu = new CpuBackend();
  const x = cpu.fromArray([3, 4], new Float32Array([0, 5, 5, 1, -1, -2, -3, -4, 2, 2, 9, 9]));
  const out = cpu.zeros([3], "i32");
  cpu.argmaxRows(out, x);
  assert.deepEqual([...await cpu.read(out)], [1, 0, 2]); // ties: lowest index
  for (const [V, k] of [[1, 1], [17, 3], [1000, 5], [1000, 100], [127, 127]]) {
    const data = randomTensorData(V, V + k);
    data[V - 1] = data[0]; // a tie
    const values = cpu.zeros([k]), indices = cpu.zeros([k], "i32");
    cpu.topK(values, indices, cpu.fromArray([V], data), k);
    const order = [...data.keys()].sort((a, b) => data[b] - data[a] || a - b).slice(0, k);
    assert.deepEqual([...await cpu.read(indices)], order, `topK indices V=${V} k=${k}`);
    assert.deepEqual([...await cpu.read(values)], order.map((i) => data[i]));
  }
  assert.throws(() => cpu.topK(cpu.zeros([2]), cpu.zeros([2], "i32"), cpu.zeros([1]), 2), /topK/);
});

Deno.test("cpu: elementwise backward ops match finite differences", () => {
  for (const n of SIZES) {
    checkGradients(`mulBackward n=${n}`, (cpu) => {
      const a = cpu.fromArray([n], randomTensorData(n, 1)),
        b = cpu.fromArray([n], randomTensorData(n, 2));
      const g = cpu.fromArray([n], randomTensorData(n, 3)), out = cpu.zeros([n]);
      const da = cpu.zeros([n]), db = cpu.zeros([n]);
      return {
        wrt: { a: { x: a, dx: da }, b: { x: b, dx: db } },
        loss: () => (cpu.mul(out, a, b), dotLoss(cpu.array(out), cpu.array(g))),
        backward: () => cpu.mulBackward({ da, db, dout: g, a, b }),
      };
    });
    checkGradients(`geluBackward n=${n}`, (cpu) => {
      const x = cpu.fromArray([n], randomTensorData(n, 4, 3)),
        g = cpu.fromArray([n], randomTensorData(n, 5));
      const out = cpu.zeros([n]), dx = cpu.zeros([n]);
      return {
        wrt: { x: { x, dx } },
        loss: () => (cpu.gelu(out, x), dotLoss(cpu.array(out), cpu.array(g))),
        backward: () => cpu.geluBackward(dx, x, g),
      };
    });
    checkGradients(`reluSquaredBackward n=${n}`, (cpu) => {
      // Keep inputs away from the kink at 0, where the derivative is not defined.
      const data = randomTensorData(n, 6).map((v) => (v < 0 ? v - 0.1 : v + 0.1));
      const x = cpu.fromArray([n], data), g = cpu.fromArray([n], randomTensorData(n, 7));
      const out = cpu.zeros([n]), dx = cpu.zeros([n]);
      return {
        wrt: { x: { x, dx } },
        loss: () => (cpu.reluSquared(out, x), dotLoss(cpu.array(out), cpu.array(g))),
        backward: () => cpu.reluSquaredBackward(dx, x, g),
      };
    });
    checkGradients(`sigmoidBackward n=${n}`, (cpu) => {
      const x = cpu.fromArray([n], randomTensorData(n, 8, 4)),
        g = cpu.fromArray([n], randomTensorData(n, 9));
      const y = cpu.zeros([n]), dx = cpu.zeros([n]);
      return {
        wrt: { x: { x, dx } },
        loss: () => (cpu.sigmoid(y, x), dotLoss(cpu.array(y), cpu.array(g))),
        backward: () => cpu.sigmoidBackward(dx, y, g),
      };
    });
  }
});

Deno.test("cpu: mulBackward with a null side, and shape errors name op and shapes", () => {
  const cpu = new CpuBackend();
  const a = cpu.fromArray([2], new Float32Array([1, 2])),
    b = cpu.fromArray([2], new Float32Array([3, 4]));
  const db = cpu.zeros([2]);
  cpu.mulBackward({ da: null, db, dout: cpu.fromArray([2], new Float32Array([1, 1])), a, b });
  assert.deepEqual([...cpu.array(db)], [1, 2]);
  assert.throws(
    () => cpu.add(cpu.zeros([2, 3]), cpu.zeros([2, 3]), cpu.zeros([3, 3])),
    (e: Error) => {
      assert.match(e.message, /^add: a \[2, 3\] and b \[3, 3\]/);
      return true;
    },
  );
  assert.throws(() => cpu.gelu(cpu.zeros([4]), cpu.zeros([5])), /gelu: out \[4\] and x \[5\]/);
  assert.throws(
    () => cpu.mul(cpu.zeros([2]), cpu.zeros([2], "i32"), cpu.zeros([2])),
    /must be f32/,
  );
});
