/**
 * Gradient checks of backward ops against central finite differences in float64.
 *
 * A scenario is built twice: on a float64 {@link CpuBackend} (where the finite differences
 * of the forward are accurate to ~1e-9, so the analytic gradient must match them to
 * rtol/atol 1e-6) and on the normal float32 backend (whose gradients must match the float64
 * ones to float32 accuracy, 2e-4 by default). Every gradient tensor is pre-filled with
 * random values first, so the check also proves that backward ops accumulate (`+=`).
 *
 * @module
 */
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import type { Tensor } from "../../src/backend/backend.ts";
import {
  assertClose,
  gather,
  numericGradient,
  pickIndices,
  randomTensorData,
  type Tolerance,
} from "./_helpers.ts";

/** What a gradient check needs from one op (built on a given backend). */
export interface GradScenario {
  /** The inputs to differentiate with respect to, each with its gradient tensor. */
  wrt: Record<string, { x: Tensor; dx: Tensor }>;
  /** Runs the forward and returns a scalar loss (e.g. `dotLoss(out, g)`). */
  loss: () => number;
  /** Runs the backward of that loss, accumulating into every `dx`. */
  backward: () => void;
}

/** Options of {@link checkGradients}. */
export interface GradCheckOptions {
  /** Finite-difference step (default 1e-5). */
  h?: number;
  /** Analytic vs numeric tolerance in float64 (default 1e-6). */
  tol?: Tolerance;
  /** float32 backend vs float64 backend tolerance (default { atol: 2e-5, rtol: 2e-4 }). */
  f32Tol?: Tolerance;
  /** Elements checked per input, sampled when larger (default 48). */
  maxChecks?: number;
}

/** Runs `build` on float64 and float32 CPU backends and checks all its gradients. */
export function checkGradients(
  what: string,
  build: (cpu: CpuBackend) => GradScenario,
  options: GradCheckOptions = {},
): void {
  const { h = 1e-5, tol = 1e-6, f32Tol = { atol: 2e-5, rtol: 2e-4 }, maxChecks = 48 } = options;
  const analytic64 = analyticGradients(new CpuBackend({ precision: "f64" }), build);
  const analytic32 = analyticGradients(new CpuBackend(), build);
  // Finite differences on a fresh float64 scenario.
  const cpu = new CpuBackend({ precision: "f64" });
  const scenario = build(cpu);
  let seed = 1;
  for (const [name, { x }] of Object.entries(scenario.wrt)) {
    const param = cpu.array(x) as Float64Array;
    const indices = pickIndices(param.length, maxChecks, seed++);
    const numeric = numericGradient(param, scenario.loss, h, indices);
    assertClose(
      gather(analytic64[name], indices),
      gather(numeric, indices),
      tol,
      `${what}: d${name} vs finite differences (float64)`,
    );
    assertClose(analytic32[name], analytic64[name], f32Tol, `${what}: d${name} float32 vs float64`);
  }
}

function analyticGradients(
  cpu: CpuBackend,
  build: (cpu: CpuBackend) => GradScenario,
): Record<string, Float64Array> {
  const scenario = build(cpu);
  const prefill: Record<string, Float64Array> = {};
  let seed = 1000;
  for (const [name, { dx }] of Object.entries(scenario.wrt)) {
    const data = randomTensorData(dx.size, seed++);
    cpu.write(dx, data);
    prefill[name] = Float64Array.from(cpu.array(dx));
  }
  scenario.loss();
  scenario.backward();
  const grads: Record<string, Float64Array> = {};
  for (const [name, { dx }] of Object.entries(scenario.wrt)) {
    const after = cpu.array(dx);
    grads[name] = Float64Array.from(after, (value, i) => value - prefill[name][i]);
  }
  return grads;
}
