// The WebGPU backend of a test file that compares against it, when this machine has one.
// Without one, the tests that need it are ignored with a message — unless
// BENTEVI_REQUIRE_WEBGPU=1 (CI), where they run and fail saying why.
import type { Backend } from "../src/backend/backend.ts";
import { createBackend } from "../src/backend/select.ts";

/** What {@link optionalWebGpu} found. */
export interface OptionalWebGpu {
  /** The backend, or null. */
  gpu: Backend | null;
  /** Why there is none ("" when there is). */
  why: string;
  /** The `ignore` of a test that needs it: no backend and not required. */
  ignore: boolean;
}

/** Opens the WebGPU backend; without one, prints `${what} skipped: why`. */
export async function optionalWebGpu(what: string): Promise<OptionalWebGpu> {
  const required = Deno.env.get("BENTEVI_REQUIRE_WEBGPU") === "1";
  let gpu: Backend | null = null;
  let why = "";
  try {
    gpu = await createBackend("webgpu", { log: () => {} });
  } catch (e) {
    why = (e as Error).message;
  }
  if (!gpu) console.log(`${what} skipped: ${why}`);
  return { gpu, why, ignore: !gpu && !required };
}
