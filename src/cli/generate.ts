/**
 * CLI command group: generate. (Being built; registers nothing yet.)
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";

/** Registers this group's commands on `program`. */
export function registerGenerate(_program: Command): void {}
