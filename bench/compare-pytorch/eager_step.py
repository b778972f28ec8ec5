"""The seed preset's GRPO step written as plain eager PyTorch, the reference bench/compare-pytorch.ts
times ours against. Same shapes and work as our step: a Qwen2-shaped model with random weights,
1 prompt x G completions, a KV-cache decode with the seed's sampling processors (repetition
penalty, temperature, top-k, top-p, min-p), the reference pass with the adapter off (beta > 0),
and a forward + backward with gradient checkpointing per block, LoRA on the seven projections
with PEFT's adapter semantics:

    y = base(x) + scale * lora_B(lora_A(dropout(x.float())))   (float32 A, B; the sum cast back)

It is what a user writes with transformers + PEFT, without their Python-side bookkeeping: no
attempt at speed beyond what eager PyTorch does by itself (torch.cat KV cache, repeat_kv).

    python3 eager_step.py      (stdin: the job as one JSON line, then commands; see main)
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class LoraLinear:
    """A frozen linear layer with PEFT's LoRA update (float32 adapter path)."""

    def __init__(self, n_in, n_out, dtype, bias, r, alpha, dropout):
        self.weight = (torch.randn(n_out, n_in) * 0.02).to(dtype)
        self.bias = (torch.randn(n_out) * 0.1).to(dtype) if bias else None
        bound = 1 / math.sqrt(n_in)
        self.a = (torch.rand(r, n_in) * 2 * bound - bound).requires_grad_(True)
        self.b = (torch.randn(n_out, r) * 0.01).requires_grad_(True)
        self.scale = alpha / r
        self.dropout = dropout
        self.enabled = True
        self.training = False

    def __call__(self, x):
        result = F.linear(x, self.weight, self.bias)
        if not self.enabled:
            return result
        dtype = result.dtype
        h = x.to(self.a.dtype)
        if self.training and self.dropout > 0:
            h = F.dropout(h, self.dropout, True)
        result = result + F.linear(F.linear(h, self.a), self.b) * self.scale
        return result.to(dtype)


def rms_norm(x, weight, eps):
    x32 = x.float()
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x32.to(x.dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Model:
    def __init__(self, c, dtype, lora):
        h, m = c["hidden_size"], c["intermediate_size"]
        self.heads, self.kv_heads = c["num_attention_heads"], c["num_key_value_heads"]
        self.head_dim = h // self.heads
        self.eps = c["rms_norm_eps"]
        self.embed = (torch.randn(c["vocab_size"], h) * 0.02).to(dtype)
        self.norm = torch.ones(h, dtype=dtype)
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim))
        self.inv_freq = inv
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        shapes = {"q_proj": (h, q, True), "k_proj": (h, kv, True), "v_proj": (h, kv, True),
                  "o_proj": (q, h, False), "gate_proj": (h, m, False), "up_proj": (h, m, False),
                  "down_proj": (m, h, False)}
        self.layers = []
        for _ in range(c["num_hidden_layers"]):
            layer = {name: LoraLinear(i, o, dtype, b, **lora) for name, (i, o, b) in shapes.items()}
            layer["in_norm"] = torch.ones(h, dtype=dtype)
            layer["post_norm"] = torch.ones(h, dtype=dtype)
            self.layers.append(layer)
        self.dtype = dtype

    def linears(self):
        return [l[n] for l in self.layers for n in TARGETS]

    def params(self):
        return [p for lin in self.linears() for p in (lin.a, lin.b)]

    def set(self, enabled=None, training=None):
        for lin in self.linears():
            if enabled is not None:
                lin.enabled = enabled
            if training is not None:
                lin.training = training

    def rope(self, positions):
        freqs = positions.float().unsqueeze(-1) * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(self.dtype).unsqueeze(1), emb.sin().to(self.dtype).unsqueeze(1)

    def block(self, i, x, cos, sin, mask, cache=None):
        layer = self.layers[i]
        b, s, _ = x.shape
        h = rms_norm(x, layer["in_norm"], self.eps)
        q = layer["q_proj"](h).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        k = layer["k_proj"](h).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        v = layer["v_proj"](h).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if i in cache:
                k = torch.cat((cache[i][0], k), dim=2)
                v = torch.cat((cache[i][1], v), dim=2)
            cache[i] = (k, v)
        group = self.heads // self.kv_heads
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        attn = scores.softmax(-1, dtype=torch.float32).to(q.dtype) @ v
        attn = attn.transpose(1, 2).reshape(b, s, -1)
        x = x + layer["o_proj"](attn)
        h = rms_norm(x, layer["post_norm"], self.eps)
        return x + layer["down_proj"](F.silu(layer["gate_proj"](h)) * layer["up_proj"](h))

    def trunk(self, ids, positions, mask, cache=None, checkpointed=False):
        x = F.embedding(ids, self.embed)
        cos, sin = self.rope(positions)
        for i in range(len(self.layers)):
            if checkpointed:
                x = checkpoint(self.block, i, x, cos, sin, mask, use_reentrant=False)
            else:
                x = self.block(i, x, cos, sin, mask, cache)
        return rms_norm(x, self.norm, self.eps)

    def logits(self, hidden):
        return F.linear(hidden, self.embed).float()


def causal_mask(s, past, device=None):
    keys = torch.arange(past + s).unsqueeze(0)
    queries = torch.arange(past, past + s).unsqueeze(1)
    return (keys <= queries).view(1, 1, s, past + s)


def process(scores, seen, job):
    """The seed's processors in transformers' order: penalty, temperature, top-k, top-p, min-p."""
    penalty = job["repetition_penalty"]
    picked = scores.gather(1, seen)
    picked = torch.where(picked < 0, picked * penalty, picked / penalty)
    scores = scores.scatter(1, seen, picked)
    scores = scores / job["temperature"]
    kth = torch.topk(scores, job["top_k"])[0][..., -1, None]
    scores = scores.masked_fill(scores < kth, -float("inf"))
    sorted_logits, sorted_idx = torch.sort(scores, descending=False)
    cumulative = sorted_logits.softmax(-1).cumsum(-1)
    remove = cumulative <= (1 - job["top_p"])
    remove[..., -1:] = False
    scores = scores.masked_fill(remove.scatter(1, sorted_idx, remove), -float("inf"))
    probs = scores.softmax(-1)
    top = probs.amax(-1, keepdim=True)
    scores = scores.masked_fill(probs < job["min_p"] * top, -float("inf"))
    return scores


def generate(model, prompt, rows, new_tokens, job, timings=None):
    """Prefill one prompt, copy it to `rows` rows, decode `new_tokens` sampled tokens."""
    with torch.no_grad():
        t0 = time.perf_counter()
        ids = torch.tensor([prompt])
        cache = {}
        hidden = model.trunk(ids, torch.arange(len(prompt)).unsqueeze(0), causal_mask(len(prompt), 0), cache)
        logits = model.logits(hidden[:, -1])
        for i in cache:
            cache[i] = tuple(t.repeat(rows, 1, 1, 1) for t in cache[i])
        logits = logits.repeat(rows, 1)
        seen = ids.repeat(rows, 1)
        t1 = time.perf_counter()
        out = []
        for step in range(new_tokens):
            scores = process(logits, seen, job)
            token = torch.multinomial(scores.softmax(-1), 1)
            out.append(token)
            seen = torch.cat((seen, token), 1)
            if step == new_tokens - 1:
                break
            position = torch.full((rows, 1), len(prompt) + step)
            hidden = model.trunk(token, position, None, cache)
            logits = model.logits(hidden[:, -1])
        t2 = time.perf_counter()
    if timings is not None:
        timings["prefill"] = t1 - t0
        timings["decode"] = t2 - t1
    return torch.cat(out, 1)


def token_logps(model, ids, start, temperature, checkpointed=False):
    s = ids.shape[1]
    hidden = model.trunk(ids, torch.arange(s).unsqueeze(0).expand_as(ids), causal_mask(s, 0), None, checkpointed)
    targets = ids[:, start + 1:]
    logits = model.logits(hidden[:, start:-1]) / temperature
    return logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def step(model, opt, prompt, job):
    times = {}
    t0 = time.perf_counter()
    completion = generate(model, prompt, job["num_generations"], job["completion_length"], job, times)
    ids = torch.cat((torch.tensor([prompt]).repeat(job["num_generations"], 1), completion), 1)
    start = len(prompt) - 1
    rewards = torch.randn(job["num_generations"])
    advantages = (rewards - rewards.mean()).unsqueeze(1)
    t1 = time.perf_counter()
    with torch.no_grad():
        model.set(enabled=False)
        ref = token_logps(model, ids, start, job["temperature"])
        model.set(enabled=True)
    t2 = time.perf_counter()
    model.set(training=True)
    logps = token_logps(model, ids, start, job["temperature"], checkpointed=True)
    ratio = torch.exp(logps - logps.detach())
    clipped = torch.clamp(ratio, 1 - job["epsilon"], 1 + job["epsilon"])
    per_token = -torch.min(ratio * advantages, clipped * advantages)
    kl = torch.exp(ref - logps) - (ref - logps) - 1
    per_token = per_token + job["beta"] * kl
    loss = per_token.sum() / per_token.numel()
    loss.backward()
    model.set(training=False)
    t3 = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(model.params(), job["max_grad_norm"])
    opt.step()
    opt.zero_grad()
    t4 = time.perf_counter()
    return {"total": t4 - t0, "prefill": times["prefill"], "decode": times["decode"],
            "rest": t1 - t0 - times["prefill"] - times["decode"], "ref": t2 - t1,
            "forward_backward": t3 - t2, "optimizer": t4 - t3}


def main():
    """Reads the job (one JSON line), then one command per line: "step" or "decode B"; answers each
    with one JSON line. The caller interleaves these with its own runs, so both sides meet the
    same machine conditions."""
    job = json.loads(sys.stdin.readline())
    torch.set_num_threads(job["threads"])
    torch.manual_seed(0)
    dtype = getattr(torch, job["dtype"])
    lora = {"r": job["lora_r"], "alpha": job["lora_alpha"], "dropout": job["lora_dropout"]}
    model = Model(job["config"], dtype, lora)
    opt = torch.optim.SGD(model.params(), lr=1e-6, momentum=0.9)
    prompt = job["prompt_ids"]
    print(json.dumps({"kind": "ready"}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "step":
            print(json.dumps({"kind": "step", **step(model, opt, prompt, job)}), flush=True)
        elif words[0] == "decode":
            rows = int(words[1])
            tokens = int(words[2]) if len(words) > 2 else job["decode_tokens"]
            times = {}
            generate(model, prompt, rows, tokens, job, times)
            print(json.dumps({"kind": "decode", "batch": rows, "tokens": tokens,
                              "seconds": times["decode"]}), flush=True)


if __name__ == "__main__":
    main()
