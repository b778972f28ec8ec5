/**
 * A Llama-architecture checkpoint (no biases, untied LM head, rope_theta 10000, eps 1e-5, grouped
 * KV heads) written here with random weights, run through our loader and transformer, and compared
 * with a direct float64 implementation of the same maths in plain JavaScript.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { noGrad, scope, tensor } from "../src/engine/index.js";
import { writeSafetensors } from "../src/engine/safetensors.js";
import { bf16BytesToFloat32, float32ToBf16Bytes } from "../src/engine/safetensors-values.js";
import { initLora } from "../src/model/load.js";
import { CausalLM, positionIdsFromMask } from "../src/model/transformer.js";

const CFG = {
  hidden: 32,
  intermediate: 48,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  headDim: 8,
  vocab: 50,
  eps: 1e-5,
  theta: 10000,
};

const configJson = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_size: CFG.hidden,
  intermediate_size: CFG.intermediate,
  num_hidden_layers: CFG.layers,
  num_attention_heads: CFG.heads,
  num_key_value_heads: CFG.kvHeads,
  vocab_size: CFG.vocab,
  rms_norm_eps: CFG.eps,
  rope_theta: CFG.theta,
  tie_word_embeddings: false,
  attention_bias: false,
  mlp_bias: false,
  hidden_act: "silu",
  max_position_embeddings: 128,
  torch_dtype: "float32",
  bos_token_id: 1,
  eos_token_id: 2,
};

/** Deterministic pseudo-random numbers (mulberry32), so the checkpoint is the same every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Matrix = { rows: number; cols: number; data: Float32Array };

function randomMatrix(next: () => number, rows: number, cols: number, spread: number, offset = 0): Matrix {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = offset + (next() * 2 - 1) * spread;
  return { rows, cols, data };
}

interface Layer {
  inNorm: Matrix;
  postNorm: Matrix;
  q: Matrix;
  k: Matrix;
  v: Matrix;
  o: Matrix;
  gate: Matrix;
  up: Matrix;
  down: Matrix;
}

function randomWeights(seed: number) {
  const next = rng(seed);
  const { hidden: h, intermediate: m, heads, kvHeads, headDim: d, vocab } = CFG;
  const layers: Layer[] = [];
  for (let i = 0; i < CFG.layers; i++)
    layers.push({
      inNorm: randomMatrix(next, 1, h, 0.3, 1),
      postNorm: randomMatrix(next, 1, h, 0.3, 1),
      q: randomMatrix(next, heads * d, h, 0.35),
      k: randomMatrix(next, kvHeads * d, h, 0.35),
      v: randomMatrix(next, kvHeads * d, h, 0.35),
      o: randomMatrix(next, h, heads * d, 0.3),
      gate: randomMatrix(next, m, h, 0.3),
      up: randomMatrix(next, m, h, 0.3),
      down: randomMatrix(next, h, m, 0.25),
    });
  return {
    embed: randomMatrix(next, vocab, h, 1),
    layers,
    norm: randomMatrix(next, 1, h, 0.3, 1),
    lmHead: randomMatrix(next, vocab, h, 0.4),
  };
}

type Weights = ReturnType<typeof randomWeights>;

function namedTensors(w: Weights): [string, Matrix][] {
  const out: [string, Matrix][] = [
    ["model.embed_tokens.weight", w.embed],
    ["model.norm.weight", w.norm],
    ["lm_head.weight", w.lmHead],
  ];
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}`;
    out.push(
      [`${p}.input_layernorm.weight`, l.inNorm],
      [`${p}.post_attention_layernorm.weight`, l.postNorm],
      [`${p}.self_attn.q_proj.weight`, l.q],
      [`${p}.self_attn.k_proj.weight`, l.k],
      [`${p}.self_attn.v_proj.weight`, l.v],
      [`${p}.self_attn.o_proj.weight`, l.o],
      [`${p}.mlp.gate_proj.weight`, l.gate],
      [`${p}.mlp.up_proj.weight`, l.up],
      [`${p}.mlp.down_proj.weight`, l.down],
    );
  });
  return out;
}

function writeCheckpoint(dir: string, w: Weights, dtype: "F32" | "BF16"): void {
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ ...configJson, torch_dtype: dtype === "F32" ? "float32" : "bfloat16" }),
  );
  writeSafetensors(
    join(dir, "model.safetensors"),
    namedTensors(w).map(([name, m]) => ({
      name,
      dtype,
      shape: m.rows === 1 ? [m.cols] : [m.rows, m.cols],
      data: dtype === "F32" ? new Uint8Array(m.data.buffer.slice(0)) : float32ToBf16Bytes(m.data),
    })),
    { format: "pt" },
  );
}

// ------------------------------------------------------------------ float64 reference

/** y = W x for W [rows, cols]. */
function matVec(w: Matrix, x: number[]): number[] {
  const y = new Array<number>(w.rows).fill(0);
  for (let r = 0; r < w.rows; r++) {
    let s = 0;
    for (let c = 0; c < w.cols; c++) s += (w.data[r * w.cols + c] as number) * (x[c] as number);
    y[r] = s;
  }
  return y;
}

function rmsNorm(x: number[], weight: Matrix): number[] {
  const ms = x.reduce((s, v) => s + v * v, 0) / x.length;
  const inv = 1 / Math.sqrt(ms + CFG.eps);
  return x.map((v, i) => (weight.data[i] as number) * v * inv);
}

/** Rotates each head's pairs (i, i + D/2) by position * theta^(-2i/D). */
function rope(vec: number[], heads: number, position: number): number[] {
  const d = CFG.headDim;
  const out = [...vec];
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < d / 2; i++) {
      const angle = position * CFG.theta ** (-(2 * i) / d);
      const a = vec[h * d + i] as number;
      const b = vec[h * d + i + d / 2] as number;
      out[h * d + i] = a * Math.cos(angle) - b * Math.sin(angle);
      out[h * d + i + d / 2] = b * Math.cos(angle) + a * Math.sin(angle);
    }
  return out;
}

const silu = (x: number) => x / (1 + Math.exp(-x));

/** Logits [S][vocab] of one unpadded sequence, positions 0..S-1. */
function referenceLogits(w: Weights, ids: number[]): number[][] {
  const { heads, kvHeads, headDim: d } = CFG;
  const group = heads / kvHeads;
  let xs = ids.map((id) => Array.from(w.embed.data.subarray(id * CFG.hidden, (id + 1) * CFG.hidden)));
  for (const l of w.layers) {
    const normed = xs.map((x) => rmsNorm(x, l.inNorm));
    const qs = normed.map((x, t) => rope(matVec(l.q, x), heads, t));
    const ks = normed.map((x, t) => rope(matVec(l.k, x), kvHeads, t));
    const vs = normed.map((x) => matVec(l.v, x));
    xs = xs.map((x, t) => {
      const attnOut = new Array<number>(heads * d).fill(0);
      for (let h = 0; h < heads; h++) {
        const kvh = Math.floor(h / group);
        const scores: number[] = [];
        for (let j = 0; j <= t; j++) {
          let s = 0;
          for (let i = 0; i < d; i++) s += (qs[t]?.[h * d + i] as number) * (ks[j]?.[kvh * d + i] as number);
          scores.push(s / Math.sqrt(d));
        }
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const total = exps.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= t; j++)
          for (let i = 0; i < d; i++)
            attnOut[h * d + i] =
              (attnOut[h * d + i] as number) +
              ((exps[j] as number) / total) * (vs[j]?.[kvh * d + i] as number);
      }
      const o = matVec(l.o, attnOut);
      return x.map((v, i) => v + (o[i] as number));
    });
    xs = xs.map((x) => {
      const n = rmsNorm(x, l.postNorm);
      const g = matVec(l.gate, n);
      const u = matVec(l.up, n);
      const down = matVec(
        l.down,
        g.map((gv, i) => silu(gv) * (u[i] as number)),
      );
      return x.map((v, i) => v + (down[i] as number));
    });
  }
  return xs.map((x) => matVec(w.lmHead, rmsNorm(x, w.norm)));
}

// ------------------------------------------------------------------ tests

const dir = mkdtempSync(join(tmpdir(), "model-llama-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const weights = randomWeights(2024);
writeCheckpoint(dir, weights, "F32");

const rowA = [3, 17, 42, 8, 8, 29, 11];
const rowB = [5, 44, 23, 9, 31]; // left-padded by 2 in the batch

test("a Llama checkpoint (no biases, untied head, rope_theta 10000, eps 1e-5) loads with the right config", () => {
  const model = CausalLM.load(dir);
  try {
    assert.equal(model.config.architecture, "LlamaForCausalLM");
    assert.equal(model.config.qkvBias, false);
    assert.equal(model.config.tieWordEmbeddings, false);
    assert.equal(model.config.ropeTheta, 10000);
    assert.equal(model.config.rmsNormEps, 1e-5);
    assert.notEqual(model.weights.lmHead, model.weights.embedTokens);
    assert.equal(model.weights.layers[0]?.qProj.bias, null);
  } finally {
    model.dispose();
  }
});

test("Llama logits equal a float64 reference implementation within 1e-4 (batched, left padding)", () => {
  const model = CausalLM.load(dir);
  try {
    const [logits, shape] = scope(() =>
      noGrad(() => {
        const ids = tensor([rowA, [0, 0, ...rowB]], { dtype: "int64" });
        const mask = tensor([rowA.map(() => 1), [0, 0, ...rowB.map(() => 1)]], { dtype: "int64" });
        const out = model.forward(ids, { attentionMask: mask, positionIds: positionIdsFromMask(mask) });
        return [out.toFloat32Array(), [...out.shape]] as const;
      }),
    );
    assert.deepEqual(shape, [2, 7, CFG.vocab]);
    const check = (row: number, offset: number, expected: number[][]) => {
      let worst = 0;
      let scale = 0;
      expected.forEach((pos, t) => {
        pos.forEach((want, v) => {
          const got = logits[(row * 7 + offset + t) * CFG.vocab + v] as number;
          worst = Math.max(worst, Math.abs(got - want));
          scale = Math.max(scale, Math.abs(want));
        });
      });
      assert.ok(scale > 1, `logits are not trivially small (${scale})`);
      assert.ok(worst < 1e-4, `row ${row}: max |diff| ${worst}`);
    };
    check(0, 0, referenceLogits(weights, rowA));
    check(1, 2, referenceLogits(weights, rowB));
  } finally {
    model.dispose();
  }
});

test("a bf16 Llama checkpoint loads as float32 exactly (bf16 values widen losslessly)", () => {
  const bfDir = mkdtempSync(join(tmpdir(), "model-llama-bf16-"));
  try {
    writeCheckpoint(bfDir, weights, "BF16");
    const model = CausalLM.load(bfDir, { dtype: "float32" });
    try {
      const rounded = bf16BytesToFloat32(float32ToBf16Bytes(weights.layers[1]?.down.data as Float32Array));
      const loaded = scope(() => model.weights.layers[1]?.downProj.weight.toFloat32Array());
      assert.deepEqual(loaded, rounded);
      assert.equal(model.weights.embedTokens.dtype, "float32");
    } finally {
      model.dispose();
    }
  } finally {
    rmSync(bfDir, { recursive: true, force: true });
  }
});

test("LoRA on a Llama model: checkpointed and plain gradients agree", () => {
  const model = CausalLM.load(dir);
  try {
    const adapter = initLora(model, { r: 2, loraAlpha: 4, targetModules: "all-linear" });
    noGrad(() => {
      for (const layer of adapter.layers) for (const pair of Object.values(layer)) pair.b.fill_(0.01);
    });
    const grads = (checkpointed: boolean) => {
      for (const p of adapter.parameters()) p.tensor.zeroGrad();
      scope(() => {
        const ids = tensor([rowA], { dtype: "int64" });
        model.forwardBackward(ids, { targets: ids.narrow(1, 1, 6), checkpointed, chunkSize: 4 }, (lp) =>
          lp.mean().neg(),
        );
      });
      return scope(() =>
        adapter
          .parameters()
          .map((p) => (p.tensor.grad as NonNullable<typeof p.tensor.grad>).toFloat64Array()),
      );
    };
    const plain = grads(false);
    const ckpt = grads(true);
    plain.forEach((g, i) => {
      const c = ckpt[i] as Float64Array;
      const scale = Math.max(...g.map(Math.abs));
      assert.ok(scale > 0);
      for (let j = 0; j < g.length; j++)
        assert.ok(Math.abs((c[j] as number) - (g[j] as number)) <= 1e-6 * scale);
    });
  } finally {
    model.dispose();
  }
});
