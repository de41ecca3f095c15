/**
 * Activation kernels of the CPU backend: GELU (tanh form, GPT-2's `gelu_new`), squared ReLU
 * and sigmoid (RWKV), SwiGLU's gating (Llama), each with its backward (which accumulates).
 *
 * @module
 */
import type { FloatArray } from "./tensor.ts";

const GELU_SCALE = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;

/** `out = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`. */
export function gelu(out: FloatArray, x: FloatArray): void {
  for (let i = 0; i < out.length; i++) {
    const xi = x[i];
    out[i] = 0.5 * xi * (1 + Math.tanh(GELU_SCALE * (xi + GELU_CUBIC * xi * xi * xi)));
  }
}

/** `dx += gelu'(x)·dout`, with sech² written as 1 − tanh² so it never overflows. */
export function geluBackward(dx: FloatArray, x: FloatArray, dout: FloatArray): void {
  for (let i = 0; i < dx.length; i++) {
    const xi = x[i];
    const th = Math.tanh(GELU_SCALE * (xi + GELU_CUBIC * xi * xi * xi));
    const sech2 = 1 - th * th;
    const local = 0.5 * (1 + th) + 0.5 * xi * sech2 * GELU_SCALE * (1 + 3 * GELU_CUBIC * xi * xi);
    dx[i] += local * dout[i];
  }
}

/** `out = max(x, 0)²`. */
export function reluSquared(out: FloatArray, x: FloatArray): void {
  for (let i = 0; i < out.length; i++) {
    const r = x[i] > 0 ? x[i] : 0;
    out[i] = r * r;
  }
}

/** `dx += 2·max(x, 0)·dout`. */
export function reluSquaredBackward(dx: FloatArray, x: FloatArray, dout: FloatArray): void {
  for (let i = 0; i < dx.length; i++) {
    if (x[i] > 0) dx[i] += 2 * x[i] * dout[i];
  }
}

/** `out = 1 / (1 + exp(−x))`. */
export function sigmoid(out: FloatArray, x: FloatArray): void {
  for (let i = 0; i < out.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]));
}

/** `dx += y·(1 − y)·dout`, given the forward output `y`. */
export function sigmoidBackward(dx: FloatArray, y: FloatArray, dout: FloatArray): void {
  for (let i = 0; i < dx.length; i++) dx[i] += y[i] * (1 - y[i]) * dout[i];
}

/** `out = silu(gate)·up`, silu(x) = x·sigmoid(x) (the SwiGLU MLP). */
export function swiglu(out: FloatArray, gate: FloatArray, up: FloatArray): void {
  for (let i = 0; i < out.length; i++) {
    const g = gate[i];
    out[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

/** `dgate += dout·up·silu'(gate)` with silu'(x) = s·(1 + x·(1 − s)), `dup += dout·silu(gate)`. */
export function swigluBackward(
  dgate: FloatArray,
  dup: FloatArray,
  dout: FloatArray,
  gate: FloatArray,
  up: FloatArray,
): void {
  for (let i = 0; i < dgate.length; i++) {
    const g = gate[i], s = 1 / (1 + Math.exp(-g)), d = dout[i];
    dgate[i] += d * up[i] * s * (1 + g * (1 - s));
    dup[i] += d * g * s;
  }
}

/** `out = tanh(x)`. */
export function tanh(out: FloatArray, x: FloatArray): void {
  for (let i = 0; i < out.length; i++) out[i] = Math.tanh(x[i]);
}

/** `dx += (1 − y²)·dout`, given the forward output `y`. */
export function tanhBackward(dx: FloatArray, y: FloatArray, dout: FloatArray): void {
  for (let i = 0; i < dx.length; i++) dx[i] += (1 - y[i] * y[i]) * dout[i];
}
