/**
 * CLI command group: gpu. `gpu [--json]` describes the WebGPU adapter (name, backend,
 * fallback flag, features, limits) and self-tests a few kernels against the CPU backend; the
 * `kernels` bench suite measures matmul GFLOP/s and ms per op on the selected device.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { createBackend, type DeviceChoice } from "../backend/select.ts";
import { createWebGpuBackendClass, requestGpuAdapter } from "../backend/webgpu/mod.ts";
import { formatKernelBench, runKernelBench } from "../backend/webgpu/kernel_bench.ts";
import { selfTest } from "../backend/webgpu/selftest.ts";
import { BenteviError } from "../errors.ts";
import { registerBenchSuite } from "./bench.ts";
import { DEVICE_CHOICES, printJson } from "./common.ts";

const DEVICES: readonly string[] = DEVICE_CHOICES;

/** Registers this group's commands on `program`. */
export function registerGpu(program: Command): void {
  program
    .command("gpu")
    .description(
      "describe the WebGPU adapter (features, limits) and self-test a few kernels against the CPU",
    )
    .option("--json", "print one JSON object")
    .action(async (options) => {
      const adapter = await requestGpuAdapter();
      if (!adapter) {
        throw new BenteviError(
          "no WebGPU adapter found; install a Vulkan driver (e.g. `apt-get install -y mesa-vulkan-drivers`) — Bentevi falls back to its CPU backend",
        );
      }
      const info = adapter.info;
      const limits: Record<string, number> = {};
      for (const key in adapter.limits) {
        limits[key] = (adapter.limits as unknown as Record<string, number>)[key];
      }
      const features = [...adapter.features].sort();
      const gpu = await createWebGpuBackendClass(adapter);
      const t0 = performance.now();
      const tests = await selfTest(gpu);
      const ms = performance.now() - t0;
      const report = {
        adapter: info.description || info.device || info.vendor || "unknown",
        vendor: info.vendor,
        architecture: info.architecture,
        backend: "WebGPU (Deno navigator.gpu)",
        isFallbackAdapter: info.isFallbackAdapter,
        matmulVariant: gpu.mm.variant,
        features,
        limits,
        selfTest: { ok: tests.every((t) => t.ok), ms: Math.round(ms), cases: tests },
      };
      gpu.destroy();
      if (options.json) printJson(report);
      else {
        const lines = [
          `adapter:          ${report.adapter}`,
          `vendor:           ${report.vendor || "-"}  architecture: ${report.architecture || "-"}`,
          `backend:          ${report.backend}`,
          `fallback adapter: ${report.isFallbackAdapter ? "yes (runs on the CPU)" : "no"}`,
          `matmul kernel:    ${report.matmulVariant}`,
          `features:         ${features.join(", ") || "(none)"}`,
          `limits:`,
          ...Object.entries(limits).map(([k, v]) => `  ${k.padEnd(42)} ${v}`),
          `self-test vs CPU (${report.selfTest.ms} ms):`,
          ...tests.map((t) =>
            `  ${t.ok ? "ok  " : "FAIL"} ${t.name.padEnd(44)} max |err| ${
              t.maxAbsError.toExponential(2)
            } (tol ${t.tolerance})`
          ),
        ];
        console.log(lines.join("\n"));
      }
      if (!report.selfTest.ok) {
        throw new BenteviError("gpu: the kernel self-test failed (see above); use --device cpu");
      }
    });

  registerBenchSuite({
    name: "kernels",
    description:
      "matmul GFLOP/s (256, 512, 1024 and the micro-model shapes), ms per hot op, dispatch cost; --device auto|webgpu|native|cpu (or the device as the input)",
    takesDevice: true,
    run: async (inputs, { json, device: option }) => {
      const given = inputs[0] as DeviceChoice | undefined;
      if (inputs.length > 1 || (given !== undefined && !DEVICES.includes(given))) {
        throw new BenteviError(
          `bench kernels takes at most one input, the device (auto, webgpu, native or cpu); got "${
            inputs.join(" ")
          }"`,
        );
      }
      if (given !== undefined && option !== undefined && given !== option) {
        throw new BenteviError(
          `bench kernels: the device is given twice (${given} and --device ${option})`,
        );
      }
      const device = option ?? given ?? "auto";
      const be = await createBackend(device, { log: (line) => console.error(line) });
      try {
        const r = await runKernelBench(be);
        return { json: { ...r }, text: json ? "" : formatKernelBench(r) };
      } finally {
        be.destroy();
      }
    },
  });
}
