// Decoding attention: one new query row per sequence (T = 1) over a KV cache, flash-decoding
// style. The generic cached kernel gives each (sequence, head) one invocation that walks the
// whole cache, so a 256-token cache keeps a few lanes busy for hundreds of steps. Here the
// cached positions are split into chunks: pass 1 runs the online softmax over one chunk per
// invocation, pass 2 merges the chunks' partial (max, sum, weighted values) per head. Head
// sizes are multiples of 4; q, k, v and out are read as vec4 and every per-head vector lives in
// named variables (a template, expanded by the host like attention_vec4.wgsl; HS4 = headDim/4).
//
// attn_decode_part: partAcc [BH·chunks, HS4] (vec4) and partStats (m, s) [BH·chunks, 2] from
// kCache, vCache [B, Tmax, KVC4] and qkv [B, 1, C4 + 2·KVC4] (grouped-query attention: KVC4 =
// NKV·HS4, query head h reads kv head h / (NH / NKV)); it also appends the new token's k and
// v to the caches. attn_decode_merge: out [B, 1, C4] from partStats and partAcc.
// p.len = pos + 1 positions, p.S positions per chunk, p.scale = 1/√hs. Bindings, uniforms and
// HS4 are declared by the host (src/backend/webgpu/attention.ts).
// Dispatch: one invocation per (b, h, chunk) for the part pass, per (b, h, vec4 of the head)
// for the merge, 8 per workgroup (llvmpipe vectorises along x in groups of 8).

//@kernel attn_decode_part
@compute @workgroup_size(8)
fn attn_decode_part(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.B; let C = p.C; let NH = p.NH; let chunks = p.chunks;
  let len = p.len; let Tmax = p.Tmax; let S = p.S;
  let id = g.x;
  if (id >= B * NH * chunks) { return; }
  let bh = id / chunks;
  let b = bh / NH;
  let h = bh % NH;
  let C4 = C / 4u;
  let KVC4 = p.NKV * HS4;
  let G = NH / p.NKV;
  let kh = h / G;
  let scale = p.scale;
  let qo = b * (C4 + 2u * KVC4) + h * HS4;
  //@REPEAT i < HS4: let q{i} = qkv[qo + {i}u] * scale;
  //@REPEAT i < HS4: var acc{i} = vec4<f32>(0.0);
  var m = -3.402823e38;
  var s = 0.0;
  let j0 = (id % chunks) * S;
  let j1 = min(j0 + S, len);
  // The cached positions of this chunk; the new one (len − 1) is read from qkv below.
  for (var j = j0; j < min(j1, len - 1u); j++) {
    let ko = (b * Tmax + j) * KVC4 + kh * HS4;
    //@REPEAT i < HS4: let k{i} = kCache[ko + {i}u];
    var d = 0.0;
    //@REPEAT i < HS4: d += dot(q{i}, k{i});
    let mn = max(m, d);
    let corr = exp(m - mn);
    let e = exp(d - mn);
    s = s * corr + e;
    m = mn;
    //@REPEAT i < HS4: acc{i} = acc{i} * corr + e * vCache[ko + {i}u];
  }
  if (j1 == len) {
    // The chunk that ends at the new position attends to the new token from qkv; the first
    // query head of each kv head's group appends its k and v to the caches (no invocation
    // reads that cache position in this dispatch).
    let src = qo - h * HS4 + C4 + kh * HS4;
    //@REPEAT i < HS4: let k{i} = qkv[src + {i}u];
    //@REPEAT i < HS4: let v{i} = qkv[src + KVC4 + {i}u];
    if (h % G == 0u) {
      let dst = (b * Tmax + len - 1u) * KVC4 + kh * HS4;
      //@REPEAT i < HS4: kCache[dst + {i}u] = k{i};
      //@REPEAT i < HS4: vCache[dst + {i}u] = v{i};
    }
    var d = 0.0;
    //@REPEAT i < HS4: d += dot(q{i}, k{i});
    let mn = max(m, d);
    let corr = exp(m - mn);
    let e = exp(d - mn);
    s = s * corr + e;
    m = mn;
    //@REPEAT i < HS4: acc{i} = acc{i} * corr + e * v{i};
  }
  //@REPEAT i < HS4: partAcc[id * HS4 + {i}u] = acc{i};
  partStats[id * 2u] = m;
  partStats[id * 2u + 1u] = s;
}

//@kernel attn_decode_merge
@compute @workgroup_size(8)
fn attn_decode_merge(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.B; let C = p.C; let NH = p.NH; let chunks = p.chunks;
  let id = g.x;
  if (id >= B * NH * HS4) { return; }
  let bh = id / HS4;
  let i = id % HS4;
  let b = bh / NH;
  let h = bh % NH;
  var mx = -3.402823e38;
  for (var c = 0u; c < chunks; c++) { mx = max(mx, partStats[(bh * chunks + c) * 2u]); }
  var s = 0.0;
  var acc = vec4<f32>(0.0);
  for (var c = 0u; c < chunks; c++) {
    let k = bh * chunks + c;
    let w = exp(partStats[k * 2u] - mx);
    s += w * partStats[k * 2u + 1u];
    acc += w * partAcc[k * HS4 + i];
  }
  out[b * (C / 4u) + h * HS4 + i] = acc / s;
}
