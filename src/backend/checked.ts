/**
 * The checked backend: wraps a raw {@link Backend} implementation so that every op runs its
 * argument check from {@link OP_CHECKS} once, then goes to the implementation. Implementations
 * keep only their own limits (a tensor is one of theirs and not freed, dtypes, dispatch sizes).
 *
 * The wrapper's ops are built from the op names, not written out: an op's signature lives only
 * in the {@link Backend} interface and in each implementation.
 *
 * @module
 */
import type { Backend, BackendOp } from "./backend.ts";
import { OP_CHECKS } from "./checks.ts";

/** The forwarders pass four arguments: the most any op takes. */
type Forwarder = (a?: unknown, b?: unknown, c?: unknown, d?: unknown) => unknown;

/** The ops that take at most four arguments: all of them (the loop below fails to compile otherwise). */
type ForwardableOp = {
  [K in BackendOp]: Parameters<Backend[K]>["length"] extends 0 | 1 | 2 | 3 | 4 ? K : never;
}[BackendOp];

/** `raw[op]` behind its argument check (the method itself, bound, when the op has none). */
function checkedOp(raw: Backend, op: ForwardableOp): Forwarder {
  const run = (raw[op] as Forwarder).bind(raw);
  const check = OP_CHECKS[op] as Forwarder | null;
  if (!check) return run;
  return (a, b, c, d) => {
    check(a, b, c, d);
    return run(a, b, c, d);
  };
}

const OPS = Object.keys(OP_CHECKS) as BackendOp[];

// The ops are installed per instance by the constructor; this declares them on the class.
export interface CheckedBackend<R extends Backend> extends Backend {}

/**
 * A {@link Backend} that checks the arguments of every op, then delegates to `raw`.
 * `CpuBackend` and `WebGpuBackend` are checked backends over their raw implementations.
 *
 * @example
 * ```ts
 * import { CheckedBackend } from "./checked.ts";
 * import { CpuKernels } from "./cpu/mod.ts";
 * const cpu = new CheckedBackend(new CpuKernels());
 * const x = cpu.zeros([2, 2]);
 * try {
 *   cpu.add(x, x, cpu.zeros([3]));
 * } catch (e) {
 *   console.log((e as Error).message); // add: a [2, 2] and b [3] differ in size (4 vs 3)
 * }
 * ```
 */
export class CheckedBackend<R extends Backend> {
  /** The unchecked implementation every op goes to after its check. */
  protected readonly raw: R;

  /** Wraps `raw`; its ops are called with checked arguments only. */
  constructor(raw: R) {
    this.raw = raw;
    const self = this as unknown as Record<BackendOp, Forwarder>;
    for (const op of OPS) self[op] = checkedOp(raw, op);
  }

  /** The kind of the raw implementation. */
  get kind(): R["kind"] {
    return this.raw.kind;
  }

  /** The description of the raw implementation. */
  get description(): string {
    return this.raw.description;
  }
}
