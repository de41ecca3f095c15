#!/usr/bin/python3
"""PyTorch reference for Bentevi's "within 3%" learning check (not used by the tests).

Trains the same tiny GPT-2 / RWKV-4 / Llama configuration as Bentevi on the same llm.c token files,
with the same batch sampler (a port of src/data/dataset/loader.ts' seeded xoshiro128**
windows), the same schedule (linear warmup + cosine to min-lr, src/train/schedule.ts), AdamW
with the same decay groups (matrices of linear layers only; no decay on norms, biases,
embeddings and RWKV time vectors; an untied Llama head decays), the same global-norm clipping, and the same evaluation
(consecutive windows of the validation file, src/train/evaluate.ts). Initialisation follows
the same distributions (GPT-2/nanoGPT, which Llama's follows; BlinkDL RWKV-4) with PyTorch's own random numbers.

Usage (Debian's python3-torch; see bench/README or docs/readme/training.md):
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=2 \\
  /usr/bin/python3 bench/reference/train_torch.py --model gpt-micro \\
      --train PREFIX.train.bin --val PREFIX.val.bin --vocab 4096 --steps 300 \\
      --batch-size 8 --context 128 --lr 1e-3 --min-lr 1e-4 --warmup 30 --seed 1337

  Parity of the forward pass with a Bentevi checkpoint (loss on the validation windows):
  /usr/bin/python3 bench/reference/train_torch.py --parity CHECKPOINT_DIR --val PREFIX.val.bin

Prints one line `RESULT {json}` with the final validation loss and the median seconds per step.
"""
import argparse, json, math, struct, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    "gpt-micro": dict(arch="gpt", contextLength=128, dModel=128, nLayer=4, nHead=4, mlpDim=512),
    "gpt-mini": dict(arch="gpt", contextLength=256, dModel=256, nLayer=6, nHead=8, mlpDim=1024),
    "llama-micro": dict(arch="llama", contextLength=128, dModel=128, nLayer=4, nHead=4, nKvHead=2,
                        headDim=32, ffnDim=384, rmsNormEps=1e-5, ropeTheta=10000.0, tieEmbeddings=True),
    "llama-mini": dict(arch="llama", contextLength=256, dModel=256, nLayer=6, nHead=8, nKvHead=4,
                       headDim=32, ffnDim=768, rmsNormEps=1e-5, ropeTheta=10000.0, tieEmbeddings=True),
    "rwkv-micro": dict(arch="rwkv", contextLength=128, dModel=256, nLayer=4, ffnDim=1024),
    "rwkv-mini": dict(arch="rwkv", contextLength=256, dModel=384, nLayer=6, ffnDim=1344),
}


# ---- data: llm.c token files and Bentevi's BatchLoader sampler ---------------------------
def read_tokens(path):
    with open(path, "rb") as f:
        header = np.frombuffer(f.read(256 * 4), dtype=np.int32)
        assert header[0] == 20240520, f"{path}: not an llm.c token file"
        dtype = np.uint16 if header[1] == 1 else np.uint32
        return np.frombuffer(f.read(), dtype=dtype)[: header[2]].astype(np.int64)


M32 = 0xFFFFFFFF


def rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


class Sampler:
    """Port of BatchLoader (random mode): splitmix32 seeding, xoshiro128**, 53-bit uniforms."""

    def __init__(self, n, B, T, seed):
        self.n, self.B, self.T = n, B, T
        s = seed & M32
        self.s = []
        for _ in range(4):
            s = (s + 0x9E3779B9) & M32
            z = s
            z = ((z ^ (z >> 16)) * 0x85EBCA6B) & M32
            z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M32
            self.s.append((z ^ (z >> 16)) & M32)

    def u32(self):
        s = self.s
        result = (rotl((s[1] * 5) & M32, 7) * 9) & M32
        t = (s[1] << 9) & M32
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t
        s[3] = rotl(s[3], 11)
        return result

    def below(self, m):
        hi = self.u32() >> 5
        lo = self.u32() >> 6
        return math.floor(((hi * 67108864 + lo) / 9007199254740992) * m)

    def starts(self):
        return [self.below(self.n - self.T) for _ in range(self.B)]


# ---- models --------------------------------------------------------------------------------
class GPT(nn.Module):
    def __init__(s, V, c):
        super().__init__()
        C, L, H, M, Tm = c["dModel"], c["nLayer"], c["nHead"], c["mlpDim"], c["contextLength"]
        s.C, s.H = C, H
        s.wte = nn.Parameter(torch.randn(V, C) * 0.02)
        s.wpe = nn.Parameter(torch.randn(Tm, C) * 0.01)
        proj = 0.02 / math.sqrt(2 * L)
        s.blocks = nn.ModuleList()
        for _ in range(L):
            b = nn.Module()
            b.ln_1 = nn.LayerNorm(C); b.ln_2 = nn.LayerNorm(C)
            b.c_attn = nn.Linear(C, 3 * C); b.c_proj = nn.Linear(C, C)
            b.c_fc = nn.Linear(C, M); b.mlp_proj = nn.Linear(M, C)
            for lin, std in ((b.c_attn, 0.02), (b.c_proj, proj), (b.c_fc, 0.02), (b.mlp_proj, proj)):
                nn.init.normal_(lin.weight, 0.0, std); nn.init.zeros_(lin.bias)
            s.blocks.append(b)
        s.ln_f = nn.LayerNorm(C)

    def forward(s, idx):
        B, T = idx.shape
        C, H = s.C, s.H
        x = s.wte[idx] + s.wpe[:T]
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        for b in s.blocks:
            q, k, v = b.c_attn(b.ln_1(x)).split(C, dim=2)
            q = q.view(B, T, H, C // H).transpose(1, 2)
            k = k.view(B, T, H, C // H).transpose(1, 2)
            v = v.view(B, T, H, C // H).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
            att = att.masked_fill(~mask, float("-inf")).softmax(-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            x = x + b.c_proj(y)
            x = x + b.mlp_proj(F.gelu(b.c_fc(b.ln_2(x)), approximate="tanh"))
        return s.ln_f(x) @ s.wte.t()

    def decay_params(s):
        return [p for n, p in s.named_parameters() if p.dim() == 2 and n not in ("wte", "wpe")]


def ortho_std(out, inp, scale):
    gain = math.sqrt(out / inp) if out > inp else 1.0
    return gain * scale / math.sqrt(max(out, inp))


class RWKV(nn.Module):
    def __init__(s, V, c):
        super().__init__()
        C, L, Fd = c["dModel"], c["nLayer"], c["ffnDim"]
        s.emb = nn.Parameter(torch.empty(V, C).uniform_(-1e-4, 1e-4))
        s.ln0 = nn.LayerNorm(C)
        s.blocks = nn.ModuleList()
        ddd = torch.arange(C, dtype=torch.float32) / C
        for l in range(L):
            r01 = l / (L - 1) if L > 1 else 0.0
            r10 = 1 - l / L
            b = nn.Module()
            b.ln1 = nn.LayerNorm(C); b.ln2 = nn.LayerNorm(C)
            h = torch.arange(C, dtype=torch.float32)
            b.time_decay = nn.Parameter(-5 + 8 * (h / max(1, C - 1)) ** (0.7 + 1.3 * r01))
            zig = torch.tensor([((i + 1) % 3 - 1) * 0.5 for i in range(C)])
            b.time_first = nn.Parameter(torch.full((C,), math.log(0.3)) + zig)
            b.att_mix_k = nn.Parameter(ddd ** r10)
            b.att_mix_v = nn.Parameter(ddd ** r10 + 0.3 * r01)
            b.att_mix_r = nn.Parameter(ddd ** (0.5 * r10))
            b.ffn_mix_k = nn.Parameter(ddd ** r10)
            b.ffn_mix_r = nn.Parameter(ddd ** r10)

            def lin(out, inp, scale=1.0):
                m = nn.Linear(inp, out, bias=False)
                if scale == 0:
                    nn.init.zeros_(m.weight)
                else:
                    nn.init.normal_(m.weight, 0.0, ortho_std(out, inp, scale))
                return m

            b.key, b.value, b.receptance, b.output = lin(C, C), lin(C, C), lin(C, C), lin(C, C, 0)
            b.ffn_key, b.ffn_receptance, b.ffn_value = lin(Fd, C), lin(C, C, 0), lin(C, Fd, 0)
            s.blocks.append(b)
        s.ln_out = nn.LayerNorm(C)
        s.head = nn.Parameter(torch.randn(V, C) * ortho_std(V, C, 0.5))

    @staticmethod
    def shift(x, mix):
        xx = F.pad(x, (0, 0, 1, -1))
        return x * mix + xx * (1 - mix)

    @staticmethod
    def wkv(w, u, k, v):
        B, T, C = k.shape
        w = -torch.exp(w)
        aa = torch.zeros(B, C); bb = torch.zeros(B, C); pp = torch.full((B, C), -1e38)
        out = []
        for t in range(T):
            kt, vt = k[:, t], v[:, t]
            ww = u + kt; q = torch.maximum(pp, ww); e1 = torch.exp(pp - q); e2 = torch.exp(ww - q)
            out.append((e1 * aa + e2 * vt) / (e1 * bb + e2))
            ww = pp + w; q = torch.maximum(ww, kt); e1 = torch.exp(ww - q); e2 = torch.exp(kt - q)
            aa = e1 * aa + e2 * vt; bb = e1 * bb + e2; pp = q
        return torch.stack(out, dim=1)

    def forward(s, idx):
        x = s.ln0(s.emb[idx])
        for b in s.blocks:
            xa = b.ln1(x)
            k = b.key(s.shift(xa, b.att_mix_k))
            v = b.value(s.shift(xa, b.att_mix_v))
            r = torch.sigmoid(b.receptance(s.shift(xa, b.att_mix_r)))
            x = x + b.output(r * s.wkv(b.time_decay, b.time_first, k, v))
            xf = b.ln2(x)
            kk = torch.square(torch.relu(b.ffn_key(s.shift(xf, b.ffn_mix_k))))
            x = x + torch.sigmoid(b.ffn_receptance(s.shift(xf, b.ffn_mix_r))) * b.ffn_value(kk)
        return s.ln_out(x) @ s.head.t()

    def decay_params(s):
        return [p for n, p in s.named_parameters() if p.dim() == 2 and n != "emb"]


def rope_tables(T, hd, theta):
    # float64 on the host, rounded to float32 — as Bentevi computes its tables.
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def rotate(x, cos, sin):
    # Hugging Face rotate_half layout: pairs (i, i + hd/2).
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class Llama(nn.Module):
    """LlamaForCausalLM: RMSNorm, RoPE (rotate_half), SwiGLU, grouped-query attention, no biases."""

    def __init__(s, V, c):
        super().__init__()
        C, L, H, KV = c["dModel"], c["nLayer"], c["nHead"], c["nKvHead"]
        hd, Fd = c["headDim"], c["ffnDim"]
        s.H, s.KV, s.hd, s.eps = H, KV, hd, c["rmsNormEps"]
        s.cos, s.sin = rope_tables(c["contextLength"], hd, c["ropeTheta"])
        s.embed = nn.Parameter(torch.randn(V, C) * 0.02)
        proj = 0.02 / math.sqrt(2 * L)

        def lin(out, inp, std):
            m = nn.Linear(inp, out, bias=False)
            nn.init.normal_(m.weight, 0.0, std)
            return m

        s.blocks = nn.ModuleList()
        for _ in range(L):
            b = nn.Module()
            b.input_norm = nn.Parameter(torch.ones(C)); b.post_norm = nn.Parameter(torch.ones(C))
            b.q = lin(H * hd, C, 0.02); b.k = lin(KV * hd, C, 0.02); b.v = lin(KV * hd, C, 0.02)
            b.o = lin(C, H * hd, proj)
            b.gate = lin(Fd, C, 0.02); b.up = lin(Fd, C, 0.02); b.down = lin(C, Fd, proj)
            s.blocks.append(b)
        s.norm = nn.Parameter(torch.ones(C))
        s.head = None if c.get("tieEmbeddings", False) else nn.Parameter(torch.randn(V, C) * 0.02)

    def rms(s, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + s.eps) * w

    def forward(s, idx):
        B, T = idx.shape
        H, KV, hd = s.H, s.KV, s.hd
        cos, sin = s.cos[:T], s.sin[:T]
        x = s.embed[idx]
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        for b in s.blocks:
            h = s.rms(x, b.input_norm)
            q = rotate(b.q(h).view(B, T, H, hd).transpose(1, 2), cos, sin)
            k = rotate(b.k(h).view(B, T, KV, hd).transpose(1, 2), cos, sin)
            v = b.v(h).view(B, T, KV, hd).transpose(1, 2)
            k = k.repeat_interleave(H // KV, dim=1); v = v.repeat_interleave(H // KV, dim=1)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
            att = att.masked_fill(~mask, float("-inf")).softmax(-1)
            x = x + b.o((att @ v).transpose(1, 2).reshape(B, T, H * hd))
            h = s.rms(x, b.post_norm)
            x = x + b.down(F.silu(b.gate(h)) * b.up(h))
        return s.rms(x, s.norm) @ (s.embed if s.head is None else s.head).t()

    def decay_params(s):
        # As src/model/llama/weights.ts: every matrix but the embeddings (an untied head decays).
        return [p for n, p in s.named_parameters() if p.dim() == 2 and n != "embed"]


# ---- schedule and evaluation (same rules as src/train) -------------------------------------
def learning_rate(step, lr, min_lr, warmup, decay_steps):
    if step < warmup:
        return lr * (step + 1) / warmup
    if step >= decay_steps:
        return min_lr
    ratio = (step - warmup) / max(1, decay_steps - warmup)
    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (lr - min_lr)


@torch.no_grad()
def evaluate(model, val, B, T, max_batches):
    windows = (len(val) - 1) // T
    batches = max(1, min(max_batches, windows // B))
    total, correct, count = 0.0, 0, 0
    for b in range(batches):
        rows = [w for w in range(b * B, b * B + B) if w < windows]
        x = torch.tensor(np.stack([val[w * T: w * T + T] for w in rows]))
        y = torch.tensor(np.stack([val[w * T + 1: w * T + T + 1] for w in rows]))
        logits = model(x)
        total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum").item()
        correct += (logits.argmax(-1) == y).sum().item()
        count += y.numel()
    return total / count, correct / count


# ---- parity with a Bentevi checkpoint -------------------------------------------------------
def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = torch.tensor(np.frombuffer(data[a:b], dtype=np.float32).reshape(v["shape"]).copy())
    return out


def load_bentevi(dir):
    cfg = json.load(open(f"{dir}/config.json"))["bentevi"]
    w = read_safetensors(f"{dir}/model.safetensors")
    w = {k[len("transformer."):] if k.startswith("transformer.") else k: t for k, t in w.items()}
    V = cfg["vocabSize"]
    with torch.no_grad():
        if cfg["arch"] == "gpt":
            m = GPT(V, cfg)
            m.wte.copy_(w["wte.weight"]); m.wpe.copy_(w["wpe.weight"])
            for i, b in enumerate(m.blocks):
                p = f"h.{i}."
                b.ln_1.weight.copy_(w[p + "ln_1.weight"]); b.ln_1.bias.copy_(w[p + "ln_1.bias"])
                b.ln_2.weight.copy_(w[p + "ln_2.weight"]); b.ln_2.bias.copy_(w[p + "ln_2.bias"])
                # HF Conv1D stores [in, out]; nn.Linear wants [out, in].
                for lin, name in ((b.c_attn, "attn.c_attn"), (b.c_proj, "attn.c_proj"),
                                  (b.c_fc, "mlp.c_fc"), (b.mlp_proj, "mlp.c_proj")):
                    lin.weight.copy_(w[p + name + ".weight"].t()); lin.bias.copy_(w[p + name + ".bias"])
            m.ln_f.weight.copy_(w["ln_f.weight"]); m.ln_f.bias.copy_(w["ln_f.bias"])
        elif cfg["arch"] == "llama":
            m = Llama(V, cfg)
            m.embed.copy_(w["model.embed_tokens.weight"]); m.norm.copy_(w["model.norm.weight"])
            if m.head is not None:
                m.head.copy_(w["lm_head.weight"])
            for i, b in enumerate(m.blocks):
                p = f"model.layers.{i}."
                b.input_norm.copy_(w[p + "input_layernorm.weight"]); b.post_norm.copy_(w[p + "post_attention_layernorm.weight"])
                for lin, name in ((b.q, "self_attn.q_proj"), (b.k, "self_attn.k_proj"), (b.v, "self_attn.v_proj"),
                                  (b.o, "self_attn.o_proj"), (b.gate, "mlp.gate_proj"), (b.up, "mlp.up_proj"),
                                  (b.down, "mlp.down_proj")):
                    lin.weight.copy_(w[p + name + ".weight"])
        else:
            m = RWKV(V, cfg)
            m.emb.copy_(w["emb.weight"]); m.head.copy_(w["head.weight"])
            m.ln0.weight.copy_(w["blocks.0.ln0.weight"]); m.ln0.bias.copy_(w["blocks.0.ln0.bias"])
            m.ln_out.weight.copy_(w["ln_out.weight"]); m.ln_out.bias.copy_(w["ln_out.bias"])
            for i, b in enumerate(m.blocks):
                p = f"blocks.{i}."
                for ln in ("ln1", "ln2"):
                    getattr(b, ln).weight.copy_(w[p + ln + ".weight"]); getattr(b, ln).bias.copy_(w[p + ln + ".bias"])
                b.time_decay.copy_(w[p + "att.time_decay"].reshape(-1)); b.time_first.copy_(w[p + "att.time_first"].reshape(-1))
                for ours, theirs in (("att_mix_k", "att.time_mix_k"), ("att_mix_v", "att.time_mix_v"), ("att_mix_r", "att.time_mix_r"),
                                     ("ffn_mix_k", "ffn.time_mix_k"), ("ffn_mix_r", "ffn.time_mix_r")):
                    getattr(b, ours).copy_(w[p + theirs].reshape(-1))
                for ours, theirs in (("key", "att.key"), ("value", "att.value"), ("receptance", "att.receptance"), ("output", "att.output"),
                                     ("ffn_key", "ffn.key"), ("ffn_receptance", "ffn.receptance"), ("ffn_value", "ffn.value")):
                    getattr(b, ours).weight.copy_(w[p + theirs + ".weight"])
    return m, cfg


def arg_parser(presets, default):
    """The command line every twin takes (`--model` from `presets`)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=default, choices=sorted(presets))
    ap.add_argument("--train"); ap.add_argument("--val", required=True)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=8); ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3); ap.add_argument("--min-lr", type=float)
    ap.add_argument("--warmup", type=int); ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--eval-batches", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1337); ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parity", help="a Bentevi checkpoint directory: print its validation loss")
    return ap


def main():
    a = arg_parser(PRESETS, "gpt-micro").parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    val = read_tokens(a.val)
    B, T = a.batch_size, a.context
    if a.parity:
        m, cfg = load_bentevi(a.parity)
        loss, acc = evaluate(m, val, B, min(T, cfg["contextLength"]), a.eval_batches)
        print("RESULT " + json.dumps(dict(checkpoint=a.parity, val_loss=loss, val_accuracy=acc)))
        return
    cfg = PRESETS[a.model]
    model = {"gpt": GPT, "llama": Llama, "rwkv": RWKV}[cfg["arch"]](a.vocab, {**cfg, "contextLength": T})
    train_and_evaluate(model, a, val)


def train_and_evaluate(model, a, val):
    """The training loop (train_steps) and the final evaluation; prints the RESULT line.
    Other twins import it."""
    B, T = a.batch_size, a.context
    t0 = time.perf_counter()
    min_lr = a.min_lr if a.min_lr is not None else a.lr / 10
    warmup = a.warmup if a.warmup is not None else min(100, max(1, a.steps // 10))

    step_seconds, last = [], [time.perf_counter()]

    def log(step, loss, lr):
        step_seconds.append(time.perf_counter() - last[0])  # the step, callback to callback
        if step % 10 == 0 or step == a.steps - 1:
            print(f"step {step + 1} loss {loss:.4f} lr {lr:.2e} {time.perf_counter() - t0:.0f}s", flush=True)
        last[0] = time.perf_counter()
    train = read_tokens(a.train)
    last[0] = time.perf_counter()
    train_steps(model, train, B, T, a.steps, a.lr, min_lr, warmup, a.weight_decay, a.clip, a.seed, log)
    vloss, vacc = evaluate(model, val, B, T, a.eval_batches)
    print("RESULT " + json.dumps(dict(system=f"pytorch-{torch.__version__}", model=a.model, steps=a.steps, batch_size=B,
                                      context=T, lr=a.lr, val_loss=vloss, val_accuracy=vacc,
                                      seconds=time.perf_counter() - t0,
                                      step_seconds_median=float(np.median(step_seconds)))))


def train_steps(model, train, B, T, steps, lr, min_lr, warmup, weight_decay, clip, seed, after_step=None):
    """Bentevi's training loop: the BatchLoader sampler, warmup + cosine, AdamW (β 0.9/0.95,
    ε 1e-8) with decay on model.decay_params() only, global-norm clipping. Calls
    after_step(step, loss, lr) after each step; returns the per-step training losses."""
    decay = model.decay_params()
    ids = {id(p) for p in decay}
    other = [p for p in model.parameters() if id(p) not in ids]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95), eps=1e-8)
    sampler = Sampler(len(train), B, T, seed)
    losses = []
    for step in range(steps):
        rate = learning_rate(step, lr, min_lr, warmup, steps)
        for g in opt.param_groups:
            g["lr"] = rate
        starts = sampler.starts()
        x = torch.tensor(np.stack([train[s: s + T] for s in starts]))
        y = torch.tensor(np.stack([train[s + 1: s + T + 1] for s in starts]))
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        losses.append(loss.item())
        if after_step:
            after_step(step, losses[-1], rate)
    return losses


if __name__ == "__main__":
    main()
