/**
 * Dispatch geometry shared by the op families: how many workgroups cover a grid-stride loop,
 * one row per workgroup, one item per invocation, and the error when a dispatch would exceed
 * the 65 535-workgroup limit.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";

/** Largest workgroup count per dimension every WebGPU device offers. */
export const MAX_GROUPS = 65535;

/** Workgroups for a grid-stride loop over `n` items with 64 invocations per group. */
export function strideGroups(n: number): [number] {
  return [Math.max(1, Math.min(Math.ceil(n / 64), 4096))];
}

/** Workgroups for one group per row (2-D when more than 65 535 rows). */
export function rowGroups(rows: number): [number, number] {
  return [Math.min(rows, MAX_GROUPS), Math.ceil(rows / MAX_GROUPS)];
}

/** Workgroups for one invocation per item, 64 per group (2-D beyond 65 535 groups). */
export function threadGroups(n: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / 64));
  return [Math.min(groups, MAX_GROUPS), Math.ceil(groups / MAX_GROUPS)];
}

/** Workgroups of 64 for one invocation per item along x only (`Math.ceil(n / 64)`). */
export function lineGroups(n: number): [number] {
  return [Math.ceil(n / 64)];
}

/**
 * One-dimensional dispatch of `invocations` in workgroups of `size`; the error, when that
 * exceeds the 65 535-workgroup limit, names the op and what is being counted (`unit`).
 */
export function flatGroups(op: string, invocations: number, unit: string, size: number): [number] {
  const groups = Math.ceil(invocations / size);
  if (groups > MAX_GROUPS) {
    throw new BenteviError(
      `${op}: ${invocations} ${unit} exceed the dispatch limit; use a smaller batch`,
    );
  }
  return [groups];
}
