// RWKV-7 kernels (and RWKV-5's recurrence): WKV-7 forward and backward (one workgroup per
// batch row and head, invocation i owning row i of the [N, N] state, N ≤ 64; time in chunks of
// p.L steps per dispatch), the key preparation and the time-mixing output (one invocation per
// row and head), and WKV-5's forward. Bindings and uniforms are declared by the host
// (src/backend/webgpu/rwkv7.ts).

const DECAY_SCALE: f32 = 0.6065306597126334; // e^(−0.5)

fn sigm(x: f32) -> f32 { return 1.0 / (1.0 + exp(-clamp(x, -80.0, 80.0))); }

//@kernel wkv7_forward
// S_t = S_{t−1}·diag(d) + (S_{t−1}·a)·bᵀ + v·kᵀ, y = S_t·r over t in [p.t0, p.t1); the state
// lives in `state` [B, H, N, N] between dispatches.
var<workgroup> sr: array<f32, 64>;
var<workgroup> sd: array<f32, 64>;
var<workgroup> sk: array<f32, 64>;
var<workgroup> sa: array<f32, 64>;
var<workgroup> sb: array<f32, 64>;
@compute @workgroup_size(64)
fn wkv7_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let N = p.N; let C = p.C;
  let bh = wg.x; let bi = bh / p.H; let h = bh % p.H;
  let i = lid.x; let live = i < N;
  let so = bh * N * N + i * N;
  var s: array<f32, 64>;
  if (live) { for (var j = 0u; j < N; j++) { s[j] = state[so + j]; } }
  for (var t = p.t0; t < p.t1; t++) {
    let o = (bi * p.T + t) * C + h * N;
    if (live) {
      sr[i] = r[o + i]; sd[i] = exp(-DECAY_SCALE * sigm(w[o + i]));
      sk[i] = k[o + i]; sa[i] = ka[o + i]; sb[i] = kb[o + i];
    }
    workgroupBarrier();
    if (live) {
      var sav = 0.0;
      for (var j = 0u; j < N; j++) { sav += s[j] * sa[j]; }
      let vi = v[o + i];
      var yi = 0.0;
      for (var j = 0u; j < N; j++) {
        let x = s[j] * sd[j] + sav * sb[j] + vi * sk[j];
        s[j] = x;
        yi += x * sr[j];
      }
      y[o + i] = yi;
    }
    workgroupBarrier();
  }
  if (live) { for (var j = 0u; j < N; j++) { state[so + j] = s[j]; } }
}

//@kernel wkv7_ckpt
// The backward's first pass: runs chunk p.c (time [c·L, c·L + L)) from checkpoint c and writes
// checkpoint c + 1 (the state before the next chunk). ins holds r, w, k, v, a, b, dy at
// multiples of p.S; scratch holds the checkpoints [B·H, nCh, N, N] from 0.
var<workgroup> cd: array<f32, 64>;
var<workgroup> ck: array<f32, 64>;
var<workgroup> ca: array<f32, 64>;
var<workgroup> cb: array<f32, 64>;
@compute @workgroup_size(64)
fn wkv7_ckpt(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let N = p.N; let C = p.C; let S = p.S;
  let bh = wg.x; let bi = bh / p.H; let h = bh % p.H;
  let i = lid.x; let live = i < N;
  let NN = N * N;
  var s: array<f32, 64>;
  let src0 = (bh * p.nCh + p.c) * NN + i * N;
  if (live) { for (var j = 0u; j < N; j++) { s[j] = select(0.0, scratch[src0 + j], p.c > 0u); } }
  let t0 = p.c * p.L;
  let t1 = min(p.T, t0 + p.L);
  for (var t = t0; t < t1; t++) {
    let o = (bi * p.T + t) * C + h * N;
    if (live) {
      cd[i] = exp(-DECAY_SCALE * sigm(ins[S + o + i]));
      ck[i] = ins[2u * S + o + i]; ca[i] = ins[4u * S + o + i]; cb[i] = ins[5u * S + o + i];
    }
    workgroupBarrier();
    if (live) {
      var sav = 0.0;
      for (var j = 0u; j < N; j++) { sav += s[j] * ca[j]; }
      let vi = ins[3u * S + o + i];
      for (var j = 0u; j < N; j++) { s[j] = s[j] * cd[j] + sav * cb[j] + vi * ck[j]; }
    }
    workgroupBarrier();
  }
  if (live && p.c + 1u < p.nCh) {
    let to = (bh * p.nCh + p.c + 1u) * NN + i * N;
    for (var j = 0u; j < N; j++) { scratch[to + j] = s[j]; }
  }
}

//@kernel wkv7_backward
// Chunk p.c of the backward: recomputes the chunk's states S_t into scratch (from p.offCh),
// then runs the adjoint back in time. Invocation x keeps row x and column x of dS (two copies
// in scratch at p.offDr and p.offDc, carried between chunks), so every sum is local.
var<workgroup> br: array<f32, 64>;
var<workgroup> bd: array<f32, 64>;
var<workgroup> bk: array<f32, 64>;
var<workgroup> bv: array<f32, 64>;
var<workgroup> ba: array<f32, 64>;
var<workgroup> bb: array<f32, 64>;
var<workgroup> bdy: array<f32, 64>;
var<workgroup> bsa: array<f32, 64>;
var<workgroup> bdsa: array<f32, 64>;
@compute @workgroup_size(64)
fn wkv7_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let N = p.N; let C = p.C; let S = p.S;
  let bh = wg.x; let bi = bh / p.H; let h = bh % p.H;
  let x = lid.x; let live = x < N;
  let NN = N * N;
  let t0 = p.c * p.L;
  let t1 = min(p.T, t0 + p.L);
  let ckpt = (bh * p.nCh + p.c) * NN; // the state before the chunk (zero for chunk 0)
  let chunk = p.offCh + bh * p.L * NN; // S_t for t in the chunk
  // Phase 1: the chunk's states.
  var s: array<f32, 64>;
  if (live) { for (var j = 0u; j < N; j++) { s[j] = select(0.0, scratch[ckpt + x * N + j], p.c > 0u); } }
  for (var t = t0; t < t1; t++) {
    let o = (bi * p.T + t) * C + h * N;
    if (live) {
      bd[x] = exp(-DECAY_SCALE * sigm(ins[S + o + x]));
      bk[x] = ins[2u * S + o + x]; ba[x] = ins[4u * S + o + x]; bb[x] = ins[5u * S + o + x];
    }
    workgroupBarrier();
    if (live) {
      var sav = 0.0;
      for (var j = 0u; j < N; j++) { sav += s[j] * ba[j]; }
      let vi = ins[3u * S + o + x];
      let at = chunk + (t - t0) * NN + x * N;
      for (var j = 0u; j < N; j++) {
        s[j] = s[j] * bd[j] + sav * bb[j] + vi * bk[j];
        scratch[at + j] = s[j];
      }
    }
    workgroupBarrier();
  }
  storageBarrier();
  workgroupBarrier();
  // Phase 2: the adjoint.
  var dsr: array<f32, 64>; // dS[x][·]
  var dsc: array<f32, 64>; // dS[·][x]
  let dro = p.offDr + bh * NN + x * N;
  let dco = p.offDc + bh * NN + x * N;
  if (live) {
    for (var j = 0u; j < N; j++) { dsr[j] = scratch[dro + j]; dsc[j] = scratch[dco + j]; }
  }
  for (var tt = t1; tt > t0; tt--) {
    let t = tt - 1u;
    let o = (bi * p.T + t) * C + h * N;
    if (live) {
      br[x] = ins[o + x];
      bd[x] = exp(-DECAY_SCALE * sigm(ins[S + o + x]));
      bk[x] = ins[2u * S + o + x]; bv[x] = ins[3u * S + o + x];
      ba[x] = ins[4u * S + o + x]; bb[x] = ins[5u * S + o + x]; bdy[x] = ins[6u * S + o + x];
    }
    workgroupBarrier();
    let cur = chunk + (t - t0) * NN;
    // S_{t−1}: the previous state of the chunk, the checkpoint, or zero.
    let hasPrev = t > t0 || p.c > 0u;
    let prev = select(ckpt, cur - NN, t > t0);
    if (live) {
      var drx = 0.0;
      for (var i = 0u; i < N; i++) { drx += scratch[cur + i * N + x] * bdy[i]; }
      dr[o + x] = dr[o + x] + drx;
      for (var j = 0u; j < N; j++) { dsr[j] += bdy[x] * br[j]; }
      for (var i = 0u; i < N; i++) { dsc[i] += bdy[i] * br[x]; }
      var dvx = 0.0;
      var dkx = 0.0;
      var sax = 0.0;
      var dsax = 0.0;
      for (var j = 0u; j < N; j++) {
        dvx += dsr[j] * bk[j];
        dkx += dsc[j] * bv[j];
        dsax += dsr[j] * bb[j];
        if (hasPrev) { sax += scratch[prev + x * N + j] * ba[j]; }
      }
      dv[o + x] = dv[o + x] + dvx;
      dk[o + x] = dk[o + x] + dkx;
      bsa[x] = sax;
      bdsa[x] = dsax;
    }
    workgroupBarrier();
    if (live) {
      var dbx = 0.0;
      var dax = 0.0;
      var ddx = 0.0;
      for (var i = 0u; i < N; i++) {
        dbx += dsc[i] * bsa[i];
        if (hasPrev) {
          let sp = scratch[prev + i * N + x];
          dax += sp * bdsa[i];
          ddx += dsc[i] * sp;
        }
      }
      db[o + x] = db[o + x] + dbx;
      da[o + x] = da[o + x] + dax;
      let sg = sigm(ins[S + o + x]);
      dw[o + x] = dw[o + x] + ddx * bd[x] * (-DECAY_SCALE * sg * (1.0 - sg));
      for (var j = 0u; j < N; j++) { dsr[j] = dsr[j] * bd[j] + bdsa[x] * ba[j]; }
      for (var i = 0u; i < N; i++) { dsc[i] = dsc[i] * bd[x] + bdsa[i] * ba[x]; }
    }
    workgroupBarrier();
  }
  if (live) {
    for (var j = 0u; j < N; j++) { scratch[dro + j] = dsr[j]; scratch[dco + j] = dsc[j]; }
  }
}

//@kernel rwkv7_keys
// Per row and head: kt = k⊙(1 + (a − 1)⊙kA), na = −κ̂, nb = κ̂⊙a, κ̂ = normalize(k⊙kK).
@compute @workgroup_size(64)
fn rwkv7_keys(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let N = p.N; let C = p.C;
  for (var idx = g.x; idx < p.rows * p.H; idx += nwg.x * 64u) {
    let c0 = (idx % p.H) * N;
    let o = (idx / p.H) * C + c0;
    var ss = 0.0;
    for (var j = 0u; j < N; j++) { let q = k[o + j] * kK[c0 + j]; ss += q * q; }
    let inv = 1.0 / max(sqrt(ss), 1e-12);
    for (var j = 0u; j < N; j++) {
      let q = k[o + j] * kK[c0 + j] * inv;
      na[o + j] = -q;
      nb[o + j] = q * a[o + j];
      kt[o + j] = k[o + j] * (1.0 + (a[o + j] - 1.0) * kA[c0 + j]);
    }
  }
}

//@kernel rwkv7_keys_bwd
// Writes this call's gradient contributions into out: dk at 0, da at p.S, and the per-row
// terms of dkK at 2·p.S and of dkA at 3·p.S (the host adds them in and sums the rows).
@compute @workgroup_size(64)
fn rwkv7_keys_bwd(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let N = p.N; let C = p.C; let S = p.S;
  for (var idx = g.x; idx < p.rows * p.H; idx += nwg.x * 64u) {
    let c0 = (idx % p.H) * N;
    let o = (idx / p.H) * C + c0;
    var ss = 0.0;
    for (var j = 0u; j < N; j++) { let q = k[o + j] * kK[c0 + j]; ss += q * q; }
    let norm = sqrt(ss);
    let clamped = norm <= 1e-12;
    let inv = 1.0 / max(norm, 1e-12);
    var dot = 0.0;
    for (var j = 0u; j < N; j++) {
      let qh = k[o + j] * kK[c0 + j] * inv;
      let dq = -dna[o + j] + dnb[o + j] * a[o + j];
      dot += qh * dq;
    }
    for (var j = 0u; j < N; j++) {
      let c = c0 + j; let kj = k[o + j]; let aj = a[o + j];
      let qh = kj * kK[c] * inv;
      let dq = -dna[o + j] + dnb[o + j] * aj;
      let dqRaw = select((dq - qh * dot) * inv, dq * inv, clamped);
      out[o + j] = dkt[o + j] * (1.0 + (aj - 1.0) * kA[c]) + dqRaw * kK[c];
      out[S + o + j] = dnb[o + j] * qh + dkt[o + j] * kj * kA[c];
      out[2u * S + o + j] = dqRaw * kj;
      out[3u * S + o + j] = dkt[o + j] * kj * (aj - 1.0);
    }
  }
}

//@kernel rwkv7_output
// out = (GroupNorm(y)·lnW + lnB + (Σ_head r⊙k⊙rK)·v) ⊙ g; par holds lnW, lnB, rK at 0, p.P,
// 2·p.P.
@compute @workgroup_size(64)
fn rwkv7_output(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let N = p.N; let C = p.C; let P = p.P;
  for (var idx = g.x; idx < p.rows * p.H; idx += nwg.x * 64u) {
    let c0 = (idx % p.H) * N;
    let o = (idx / p.H) * C + c0;
    var mean = 0.0;
    var s = 0.0;
    for (var j = 0u; j < N; j++) { mean += y[o + j]; s += r[o + j] * k[o + j] * par[2u * P + c0 + j]; }
    mean /= f32(N);
    var vr = 0.0;
    for (var j = 0u; j < N; j++) { let d = y[o + j] - mean; vr += d * d; }
    let rstd = inverseSqrt(vr / f32(N) + p.eps);
    for (var j = 0u; j < N; j++) {
      let c = c0 + j;
      let u = (y[o + j] - mean) * rstd * par[c] + par[P + c] + s * v[o + j];
      out[o + j] = u * gate[o + j];
    }
  }
}

//@kernel rwkv7_output_bwd
// Contributions into out: dy, dr, dk, dv, dg at 0 … 4·p.S, the per-row terms of dlnW, dlnB and
// drK at 5·p.S, 6·p.S, 7·p.S.
@compute @workgroup_size(64)
fn rwkv7_output_bwd(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let N = p.N; let C = p.C; let P = p.P; let S = p.S;
  for (var idx = g.x; idx < p.rows * p.H; idx += nwg.x * 64u) {
    let c0 = (idx % p.H) * N;
    let o = (idx / p.H) * C + c0;
    var mean = 0.0;
    var s = 0.0;
    for (var j = 0u; j < N; j++) { mean += y[o + j]; s += r[o + j] * k[o + j] * par[2u * P + c0 + j]; }
    mean /= f32(N);
    var vr = 0.0;
    for (var j = 0u; j < N; j++) { let d = y[o + j] - mean; vr += d * d; }
    let rstd = inverseSqrt(vr / f32(N) + p.eps);
    var ds = 0.0;
    var m1 = 0.0;
    var m2 = 0.0;
    for (var j = 0u; j < N; j++) {
      let c = c0 + j;
      let xh = (y[o + j] - mean) * rstd;
      let u = xh * par[c] + par[P + c] + s * v[o + j];
      let du = dout[o + j] * gate[o + j];
      out[4u * S + o + j] = dout[o + j] * u;
      out[5u * S + o + j] = du * xh;
      out[6u * S + o + j] = du;
      out[3u * S + o + j] = du * s;
      ds += du * v[o + j];
      let dxh = du * par[c];
      m1 += dxh;
      m2 += dxh * xh;
    }
    m1 /= f32(N);
    m2 /= f32(N);
    for (var j = 0u; j < N; j++) {
      let c = c0 + j;
      let xh = (y[o + j] - mean) * rstd;
      let du = dout[o + j] * gate[o + j];
      out[o + j] = rstd * (du * par[c] - m1 - xh * m2);
      out[S + o + j] = ds * k[o + j] * par[2u * P + c];
      out[2u * S + o + j] = ds * r[o + j] * par[2u * P + c];
      out[7u * S + o + j] = ds * r[o + j] * k[o + j];
    }
  }
}

//@kernel wkv5_forward
// RWKV-5 per head: y_j = Σ_i r_i·(S[i][j] + u_i·k_i·v_j), then S[i][j] ← w_i·S[i][j] + k_i·v_j.
// Invocation j keeps column j of S. p.PT = 1 (RWKV-6): `decay` is [B, T, C] in the raw form,
// w_i = exp(−exp(decay[t][i])) per token.
var<workgroup> fr: array<f32, 64>;
var<workgroup> fk: array<f32, 64>;
var<workgroup> fw: array<f32, 64>;
var<workgroup> fu: array<f32, 64>;
@compute @workgroup_size(64)
fn wkv5_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let N = p.N; let C = p.C;
  let bh = wg.x; let bi = bh / p.H; let h = bh % p.H;
  let j = lid.x; let live = j < N;
  let so = bh * N * N;
  var s: array<f32, 64>;
  if (live) { for (var i = 0u; i < N; i++) { s[i] = state[so + i * N + j]; } }
  if (live) { fu[j] = bonus[h * N + j]; if (p.PT == 0u) { fw[j] = decay[h * N + j]; } }
  for (var t = 0u; t < p.T; t++) {
    let o = (bi * p.T + t) * C + h * N;
    if (live) {
      fr[j] = r[o + j]; fk[j] = k[o + j];
      if (p.PT == 1u) { fw[j] = exp(-exp(decay[o + j])); }
    }
    workgroupBarrier();
    if (live) {
      let vj = v[o + j];
      var acc = 0.0;
      for (var i = 0u; i < N; i++) {
        let kv = fk[i] * vj;
        acc += fr[i] * (s[i] + fu[i] * kv);
        s[i] = fw[i] * s[i] + kv;
      }
      y[o + j] = acc;
    }
    workgroupBarrier();
  }
  if (live) { for (var i = 0u; i < N; i++) { state[so + i * N + j] = s[i]; } }
}
