import assert from "node:assert/strict";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  type DType,
  fromBytes,
  liveTensorCount,
  noGrad,
  scope,
  type Tensor,
  tensor,
} from "../src/engine/index.js";
import { openSafetensors, readSafetensors, writeSafetensors } from "../src/engine/safetensors.js";
import { KVCache } from "../src/model/kv-cache.js";
import { loadModel } from "../src/model/load.js";
import { tokenLogProbs } from "../src/model/logprobs.js";
import { CausalLM, positionIdsFromMask } from "../src/model/transformer.js";
import { FIXTURES_DIR } from "../src/paths.js";
import { withTempDir } from "./helpers/temp-dir.js";

const TINY = join(FIXTURES_DIR, "qwen2-tiny");
const reference = readSafetensors(join(TINY, "reference.safetensors")).tensors;

/** A reference tensor as an engine tensor (caller's scope). */
function ref(name: string, dtype: DType): Tensor {
  const entry = reference.get(name);
  if (!entry) throw new Error(`reference.safetensors has no ${name}`);
  return fromBytes(entry.data, dtype, entry.shape);
}

/** Largest |a - b| over the positions whose mask is 1 (rows of `width` values per position). */
function maxDiffAtRealPositions(a: Float32Array, b: Float32Array, mask: number[], width: number): number {
  let worst = 0;
  mask.forEach((m, pos) => {
    if (!m) return;
    for (let v = 0; v < width; v++)
      worst = Math.max(worst, Math.abs((a[pos * width + v] ?? 0) - (b[pos * width + v] ?? 0)));
  });
  return worst;
}

const model = CausalLM.load(TINY);
const V = model.config.vocabSize;

test("qwen2-tiny logits match transformers within 1e-4 at real positions (left padding, explicit positions)", () => {
  scope(() =>
    noGrad(() => {
      const mask = ref("attention_mask", "int64");
      const logits = model.forward(ref("input_ids", "int64"), {
        attentionMask: mask,
        positionIds: ref("position_ids", "int64"),
      });
      assert.deepEqual(logits.shape, [2, 12, V]);
      assert.equal(logits.dtype, "float32");
      const diff = maxDiffAtRealPositions(
        logits.toFloat32Array(),
        ref("logits", "float32").toFloat32Array(),
        mask.toArray(),
        V,
      );
      assert.ok(diff < 1e-4, `max |diff| ${diff}`);
      // positionIdsFromMask gives the fixture's positions (cumsum(mask) - 1 clamped at 0).
      assert.deepEqual(positionIdsFromMask(mask).toArray(), ref("position_ids", "int64").toArray());
    }),
  );
});

test("a wrong mask length or batch is an error naming the expected shape", () => {
  scope(() =>
    noGrad(() => {
      const ids = tensor([[1, 2, 3]], { dtype: "int64" });
      assert.throws(
        () => model.forward(ids, { attentionMask: tensor([[1, 1]], { dtype: "int64" }) }),
        /attentionMask must be \[1, 3\]/,
      );
      assert.throws(
        () => model.forward(tensor([1, 2], { dtype: "int64" })),
        /inputIds must be \[batch, seq\]/,
      );
    }),
  );
});

function greedyWithCache(prompt: number[], steps: number): number[] {
  return scope(() =>
    noGrad(() => {
      const cache = new KVCache(model.config, 1, { capacity: 3 }); // small: exercises growth
      try {
        const out = [...prompt];
        let logits = model.forward(tensor([prompt], { dtype: "int64" }), { cache, logitsToKeep: 1 });
        for (let i = 0; i < steps; i++) {
          const next = logits.select(1, -1).argmax(-1).item();
          out.push(next);
          logits = model.forward(tensor([[next]], { dtype: "int64" }), { cache });
        }
        return out;
      } finally {
        cache.dispose();
      }
    }),
  );
}

function greedyWithoutCache(prompt: number[], steps: number): number[] {
  const out = [...prompt];
  for (let i = 0; i < steps; i++)
    out.push(
      scope(() =>
        noGrad(() =>
          model
            .forward(tensor([out], { dtype: "int64" }), { logitsToKeep: 1 })
            .select(1, 0)
            .argmax(-1)
            .item(),
        ),
      ),
    );
  return out;
}

test("greedy decoding reproduces transformers' greedy_output, with and without the KV cache", () => {
  const prompt = scope(() => ref("greedy_prompt", "int64").toArray());
  const expected = scope(() => ref("greedy_output", "int64").toArray());
  const steps = expected.length - prompt.length;
  assert.deepEqual(greedyWithCache(prompt, steps), expected);
  assert.deepEqual(greedyWithoutCache(prompt, steps), expected);
});

test("KV cache: prefill + decode of left-padded rows equals one full forward at real positions", () => {
  scope(() =>
    noGrad(() => {
      const ids = ref("input_ids", "int64");
      const mask = ref("attention_mask", "int64");
      const pos = ref("position_ids", "int64");
      const full = model.forward(ids, { attentionMask: mask, positionIds: pos }).toFloat32Array();
      const cache = new KVCache(model.config, 2, { capacity: 5 });
      const parts: Float32Array[] = [];
      for (const [start, len] of [
        [0, 7],
        [7, 1],
        [8, 4],
      ] as const) {
        const logits = model.forward(ids.narrow(1, start, len), {
          attentionMask: mask.narrow(1, 0, start + len),
          positionIds: pos.narrow(1, start, len),
          cache,
        });
        parts.push(logits.toFloat32Array());
        assert.equal(cache.length, start + len);
      }
      cache.dispose();
      // Reassemble [2, 12, V] from the three [2, len, V] pieces.
      const pieced = new Float32Array(full.length);
      let offset = 0;
      for (const [i, len] of [7, 1, 4].entries()) {
        const part = parts[i] as Float32Array;
        for (let b = 0; b < 2; b++)
          pieced.set(part.subarray(b * len * V, (b + 1) * len * V), (b * 12 + offset) * V);
        offset += len;
      }
      const diff = maxDiffAtRealPositions(pieced, full, mask.toArray(), V);
      assert.ok(diff < 1e-5, `max |diff| ${diff}`);
    }),
  );
});

test("KV cache: expandRows shares one prefill between G rows; selectRows keeps chosen rows", () => {
  scope(() =>
    noGrad(() => {
      const prompts = tensor(
        [
          [5, 6, 7, 8],
          [9, 10, 11, 12],
        ],
        { dtype: "int64" },
      );
      const next = tensor([[20], [21], [22], [30], [31], [32]], { dtype: "int64" });
      // Shared prefill, expanded to 3 rows per prompt.
      const cache = new KVCache(model.config, 2);
      model.forward(prompts, { cache });
      cache.expandRows(3);
      assert.equal(cache.batch, 6);
      const shared = model.forward(next, { cache }).toFloat32Array();
      // Reference: every row runs its own prefill.
      const own = new KVCache(model.config, 6);
      model.forward(prompts.repeatInterleave(3, 0), { cache: own });
      const separate = model.forward(next, { cache: own }).toFloat32Array();
      assert.ok(maxDiffAtRealPositions(shared, separate, [1, 1, 1, 1, 1, 1], V) < 1e-5);
      // Keep rows 4 and 1: their next step equals the same rows of the full batch.
      const step = tensor([[40], [41]], { dtype: "int64" });
      cache.selectRows([4, 1]);
      own.selectRows([4, 1]);
      assert.equal(cache.batch, 2);
      const a = model.forward(step, { cache }).toFloat32Array();
      const b = model.forward(step, { cache: own }).toFloat32Array();
      assert.ok(maxDiffAtRealPositions(a, b, [1, 1], V) < 1e-5);
      assert.throws(() => cache.selectRows([2]), /row 2 is out of range for a batch of 2/);
      cache.dispose();
      own.dispose();
      // A cache is for inference only.
    }),
  );
  assert.throws(
    () =>
      scope(() => model.forward(tensor([[1]], { dtype: "int64" }), { cache: new KVCache(model.config, 1) })),
    /run the forward under noGrad/,
  );
});

test("tokenLogProbs: chunked equals one chunk, matches log_softmax of full logits, entropy is right", () => {
  scope(() =>
    noGrad(() => {
      const ids = ref("input_ids", "int64");
      const mask = ref("attention_mask", "int64");
      const pos = ref("position_ids", "int64");
      const hidden = model.forward(ids, { attentionMask: mask, positionIds: pos, hiddenOnly: true });
      assert.deepEqual(hidden.shape, [2, 12, 64]);
      const h = hidden.narrow(1, 0, 11);
      const targets = ids.narrow(1, 1, 11);
      const whole = tokenLogProbs(model, h, targets, { chunkSize: 1000, entropy: true });
      const chunked = tokenLogProbs(model, h, targets, { chunkSize: 3, entropy: true });
      assert.deepEqual(whole.logprobs.shape, [2, 11]);
      assert.ok(whole.logprobs.sub(chunked.logprobs).abs().max().item() < 1e-6);
      const ent = chunked.entropy as Tensor;
      assert.ok((whole.entropy as Tensor).sub(ent).abs().max().item() < 1e-5);
      // Direct: log_softmax over the full logits, gather the targets.
      const logp = model.lmHead(h).logSoftmax(-1);
      const direct = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1);
      assert.ok(direct.sub(chunked.logprobs).abs().max().item() < 1e-5);
      const directEntropy = logp.exp().mul(logp).sum(-1).neg();
      assert.ok(directEntropy.sub(ent).abs().max().item() < 1e-4);
      // Temperature divides the logits.
      const hot = tokenLogProbs(model, h, targets, { temperature: 0.7 }).logprobs;
      const hotDirect = model.lmHead(h).div(0.7).logSoftmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1);
      assert.ok(hot.sub(hotDirect).abs().max().item() < 1e-5);
    }),
  );
});

test("forward frees every intermediate tensor", () => {
  const before = liveTensorCount();
  scope(() =>
    noGrad(() => {
      const ids = tensor([[3, 4, 5]], { dtype: "int64" });
      model.forward(ids);
    }),
  );
  const logits = noGrad(() => model.forward(tensor([[3, 4, 5]], { dtype: "int64" })));
  logits.dispose();
  // The tensor() input of the second forward is caller-owned (no scope): one extra handle at most.
  assert.ok(liveTensorCount() - before <= 1, `leaked ${liveTensorCount() - before} handles`);
});

test("loadModel().logits: plain arrays in, Float32Array out, same numbers as the fixture", async () => {
  const m = await loadModel(TINY);
  try {
    const ids = scope(() => ref("input_ids", "int64").tolist()) as number[][];
    const mask = scope(() => ref("attention_mask", "int64").tolist()) as number[][];
    const pos = scope(() => ref("position_ids", "int64").tolist()) as number[][];
    const out = await m.logits(ids, { attentionMask: mask, positionIds: pos });
    assert.deepEqual(out.shape, [2, 12, V]);
    assert.ok(out.data instanceof Float32Array);
    const want = scope(() => ref("logits", "float32").toFloat32Array());
    assert.ok(maxDiffAtRealPositions(out.data, want, mask.flat(), V) < 1e-4);
    await assert.rejects(m.logits([[1, 2], [3]]), /row 1 has 1 entries, expected 2/);
    await assert.rejects(m.logits([[1, 999]]), /token id 999 is outside the vocabulary/);
    await assert.rejects(
      loadModel(TINY, { dtype: "int64" }),
      /loadModel: dtype must be one of float32, bfloat16, float16, float64, got "int64"/,
    );
  } finally {
    m.dispose();
  }
});

test("sharded checkpoints (model.safetensors.index.json) load to the same logits", () => {
  withTempDir("model-forward", (dir) => {
    copyFileSync(join(TINY, "config.json"), join(dir, "config.json"));
    const all = readSafetensors(join(TINY, "model.safetensors")).tensors;
    const names = [...all.keys()];
    const shards = [names.slice(0, 10), names.slice(10)];
    const weightMap: Record<string, string> = {};
    shards.forEach((shard, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(
        join(dir, file),
        shard.map((name) => {
          const t = all.get(name);
          if (!t) throw new Error(name);
          weightMap[name] = file;
          return { name, dtype: t.dtype, shape: t.shape, data: t.data };
        }),
      );
    });
    writeFileSync(
      join(dir, "model.safetensors.index.json"),
      JSON.stringify({ metadata: {}, weight_map: weightMap }),
    );
    const sharded = CausalLM.load(dir);
    try {
      scope(() =>
        noGrad(() => {
          const ids = tensor([[1, 2, 3, 4]], { dtype: "int64" });
          const diff = sharded.forward(ids).sub(model.forward(ids)).abs().max().item();
          assert.equal(diff, 0);
        }),
      );
    } finally {
      sharded.dispose();
    }
  });
});

test("missing tensors and wrong shapes are errors naming the tensor and the file", () => {
  withTempDir("model-forward", (dir) => {
    copyFileSync(join(TINY, "config.json"), join(dir, "config.json"));
    const all = readSafetensors(join(TINY, "model.safetensors")).tensors;
    const write = (edit: (name: string) => { name: string; shape: number[]; keep: boolean }) => {
      const entries = [];
      for (const [name, t] of all) {
        const e = edit(name);
        if (e.keep) entries.push({ name: e.name, dtype: t.dtype, shape: e.shape, data: t.data });
      }
      writeSafetensors(join(dir, "model.safetensors"), entries);
    };
    write((name) => ({
      name,
      shape: all.get(name)?.shape ?? [],
      keep: name !== "model.layers.1.self_attn.k_proj.bias",
    }));
    assert.throws(
      () => CausalLM.load(dir),
      /model\.safetensors: missing tensor "model\.layers\.1\.self_attn\.k_proj\.bias"/,
    );
    write((name) => ({
      name,
      shape: name === "model.layers.0.mlp.up_proj.weight" ? [64, 160] : (all.get(name)?.shape ?? []),
      keep: true,
    }));
    assert.throws(
      () => CausalLM.load(dir),
      /model\.safetensors: tensor "model\.layers\.0\.mlp\.up_proj\.weight" has shape \[64, 160\], the config implies \[160, 64\]/,
    );
  });
  assert.throws(() => CausalLM.load(FIXTURES_DIR), /config\.json/);
});

test("bfloat16 loading converts tensor by tensor; logits stay close to float32", () => {
  const bf = CausalLM.load(TINY, { dtype: "bfloat16" });
  try {
    assert.equal(bf.weights.embedTokens.dtype, "bfloat16");
    assert.equal(bf.weights.lmHead, bf.weights.embedTokens, "tied head shares the embedding tensor");
    scope(() =>
      noGrad(() => {
        const ids = tensor([[1, 2, 3, 4, 5, 6]], { dtype: "int64" });
        const a = bf.forward(ids);
        const b = model.forward(ids);
        assert.equal(a.dtype, "float32");
        const scale = b.abs().max().item();
        const diff = a.sub(b).abs().max().item();
        assert.ok(diff < 0.1 * scale, `bf16 diff ${diff} vs scale ${scale}`);
        // The hidden states keep the model dtype.
        assert.equal(bf.forward(ids, { hiddenOnly: true }).dtype, "bfloat16");
      }),
    );
  } finally {
    bf.dispose();
  }
  // The header says F32; nothing was loaded twice: the file is read by ranges.
  const file = openSafetensors(join(TINY, "model.safetensors"));
  assert.equal(file.tensors.get("model.embed_tokens.weight")?.dtype, "F32");
  file.close();
});
