// Decoding attention: one new query row per sequence (T = 1) over a KV cache, flash-decoding
// style. The generic cached kernel gives each (sequence, head) one invocation that walks the
// whole cache, so a 256-token cache keeps a few lanes busy for hundreds of steps. Here the
// cached positions are split into chunks: pass 1 runs the online softmax over one chunk per
// invocation, pass 2 merges the chunks' partial (max, sum, weighted values) per head. Head
// sizes are multiples of 4; q, k, v and out are read as vec4 and every per-head vector lives in
// named variables (a template, expanded by the host like attention_vec4.wgsl; HS4 = headDim/4).
//
// attn_decode_part:  b1 partial acc [BH·chunks, HS4] (vec4), b2 partial (m, s) [BH·chunks, 2],
//                    b3 kCache [B, Tmax, C4], b4 vCache [B, Tmax, C4], b5 qkv [B, 1, 3·C4];
//                    it also appends the new token's k and v to the caches.
// attn_decode_merge: b1 out [B, 1, C4], b2 partial (m, s), b3 partial acc.
// u0 = (B, C, NH, chunks), u1 = (len = pos + 1, Tmax, S = positions per chunk), f0.x = 1/√hs.
// Dispatch: one invocation per (b, h, chunk) for the part pass, per (b, h, vec4 of the head)
// for the merge, 8 per workgroup (llvmpipe vectorises along x in groups of 8).

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> b1: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> b4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> b5: array<vec4<f32>>;

const HS4: u32 = 8u;

@compute @workgroup_size(8)
fn attn_decode_part(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.u0.x; let C = p.u0.y; let NH = p.u0.z; let chunks = p.u0.w;
  let len = p.u1.x; let Tmax = p.u1.y; let S = p.u1.z;
  let id = g.x;
  if (id >= B * NH * chunks) { return; }
  let bh = id / chunks;
  let b = bh / NH;
  let h = bh % NH;
  let C4 = C / 4u;
  let scale = p.f0.x;
  let qo = b * 3u * C4 + h * HS4;
  //@REPEAT i < HS4: let q{i} = b5[qo + {i}u] * scale;
  //@REPEAT i < HS4: var acc{i} = vec4<f32>(0.0);
  var m = -3.402823e38;
  var s = 0.0;
  let j0 = (id % chunks) * S;
  let j1 = min(j0 + S, len);
  if (j1 == len) {
    // The chunk that ends at the new position first appends the new token's k and v to the
    // cache (its own head's part of them); no other invocation reads that position.
    let src = b * 3u * C4 + C4 + h * HS4;
    let dst = (b * Tmax + len - 1u) * C4 + h * HS4;
    //@REPEAT i < HS4: b3[dst + {i}u] = b5[src + {i}u];
    //@REPEAT i < HS4: b4[dst + {i}u] = b5[src + C4 + {i}u];
  }
  for (var j = j0; j < j1; j++) {
    let ko = (b * Tmax + j) * C4 + h * HS4;
    //@REPEAT i < HS4: let k{i} = b3[ko + {i}u];
    var d = 0.0;
    //@REPEAT i < HS4: d += dot(q{i}, k{i});
    let mn = max(m, d);
    let corr = exp(m - mn);
    let e = exp(d - mn);
    s = s * corr + e;
    m = mn;
    //@REPEAT i < HS4: acc{i} = acc{i} * corr + e * b4[ko + {i}u];
  }
  //@REPEAT i < HS4: b1[id * HS4 + {i}u] = acc{i};
  b2[id * 2u] = m;
  b2[id * 2u + 1u] = s;
}

@compute @workgroup_size(8)
fn attn_decode_merge(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.u0.x; let C = p.u0.y; let NH = p.u0.z; let chunks = p.u0.w;
  let id = g.x;
  if (id >= B * NH * HS4) { return; }
  let bh = id / HS4;
  let i = id % HS4;
  let b = bh / NH;
  let h = bh % NH;
  var mx = -3.402823e38;
  for (var c = 0u; c < chunks; c++) { mx = max(mx, b2[(bh * chunks + c) * 2u]); }
  var s = 0.0;
  var acc = vec4<f32>(0.0);
  for (var c = 0u; c < chunks; c++) {
    let k = bh * chunks + c;
    let w = exp(b2[k * 2u] - mx);
    s += w * b2[k * 2u + 1u];
    acc += w * b3[k * HS4 + i];
  }
  b1[b * (C / 4u) + h * HS4 + i] = acc / s;
}
