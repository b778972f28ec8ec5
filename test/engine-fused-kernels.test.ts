// The engine's bf16 decode kernels (native/src/small_linear.cc, native/src/decode_attention.cc)
// against float32 references and against the operator path they replace: the same sums up to
// bf16 rounding, the KV cache written in place, masks and grouped-query heads honoured, and the
// kernels declining (null / operator path) wherever they do not apply. On a CPU without AVX-512
// (BF16) the tests check that the kernels decline and the operator path serves.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import {
  cat,
  countOps,
  decodeAttention,
  enableGrad,
  fusedKernelSupport,
  grad,
  loraEpilogue,
  manualSeed,
  noGrad,
  randn,
  scope,
  setFusedKernels,
  smallLoraLinear,
  type Tensor,
  tensor,
  zeros,
} from "../src/engine/index.js";
import { KVCache } from "../src/model/kv-cache.js";
import { loadLora } from "../src/model/load.js";
import { CausalLM } from "../src/model/transformer.js";
import { FIXTURES_DIR } from "../src/paths.js";

const support = fusedKernelSupport();

/** Largest |a - b| / (|b| + floor) over the elements. */
function maxRelative(a: Tensor, b: Tensor, floor: number): number {
  return a.float().sub(b.float()).abs().div(b.float().abs().add(floor)).max().item();
}

/** Runs fn with the decode kernels off, then restores the setting. */
function withoutKernels<T>(fn: () => T): T {
  const previous = setFusedKernels(false);
  try {
    return fn();
  } finally {
    setFusedKernels(previous);
  }
}

test("few-row bf16 projection with a LoRA update: PEFT's sums within one bf16 rounding", () =>
  scope(() =>
    noGrad(() => {
      manualSeed(3);
      for (const [rows, out, inner, parts] of [
        [1, 96, 64, [96]],
        [2, 120, 200, [64, 32, 24]],
        [5, 77, 33, [40, 37]],
        [8, 64, 96, [64]],
      ] as [number, number, number, number[]][]) {
        const rank = 4;
        const x = randn([rows, inner]).to("bfloat16");
        const w = randn([out, inner]).mul(0.1).to("bfloat16");
        const bias = randn([out]).mul(0.1).to("bfloat16");
        const a = randn([parts.length * rank, inner]).mul(0.1);
        const b = randn([out, rank]).mul(0.1);
        const scale = 2;
        const got = smallLoraLinear(x, w, bias, a, b, parts, scale);
        if (!support.linear) {
          assert.equal(got, null, "no AVX-512 BF16: the kernel declines");
          continue;
        }
        assert.ok(got !== null);
        assert.deepEqual(got.shape, [rows, out]);
        // float32 reference: base rounded to bf16 as F.linear returns it, then each part's update.
        const base = x.float().linear(w.float(), bias.float()).to("bfloat16").float();
        const down = x.float().linear(a); // [rows, parts * r]
        let offset = 0;
        const updates = parts.map((n, p) => {
          const u = down.narrow(1, p * rank, rank).matmul(b.narrow(0, offset, n).transpose(0, 1));
          offset += n;
          return u;
        });
        const reference = base.add(cat(updates, 1).mul(scale));
        // One bf16 rounding of the base plus one of the sum: 2^-7 relative, and a floor for sums
        // near zero where the base's rounding dominates.
        const error = maxRelative(got, reference, 0.05);
        assert.ok(error <= 2 ** -7, `rows ${rows}, out ${out}, in ${inner}: relative error ${error}`);
      }
    }),
  ));

test("Tensor.linear uses the few-row kernel only where it applies, with F.linear's results", () =>
  scope(() => {
    manualSeed(4);
    const w = randn([48, 40]).mul(0.1).to("bfloat16");
    const reference = (x: Tensor) => x.float().linear(w.float()).to("bfloat16").float();
    for (const rows of [1, 3, 8, 9, 30]) {
      const x = randn([rows, 40]).to("bfloat16");
      const got = noGrad(() => x.linear(w));
      const error = maxRelative(got, reference(x), 0.05);
      assert.ok(error <= 2 ** -7, `${rows} rows: relative error ${error}`);
    }
    // With autograd recording, the operator path runs and gradients flow.
    const x = randn([2, 40]).to("bfloat16");
    const trainable = w.float().to("bfloat16");
    trainable.setRequiresGrad(true);
    const y = enableGrad(() => x.linear(trainable));
    assert.ok(y.requiresGrad, "a graph is recorded when the weight requires grad");
  }));

test("the LoRA kernel declines float32, autograd, more than 8 rows and mismatched parts", () =>
  scope(() => {
    const x = randn([2, 16]).to("bfloat16");
    const w = randn([24, 16]).to("bfloat16");
    const a = randn([4, 16]);
    const b = randn([24, 4]);
    noGrad(() => {
      assert.equal(smallLoraLinear(x.float(), w.float(), null, a, b, [24], 1), null);
      assert.equal(smallLoraLinear(randn([9, 16]).to("bfloat16"), w, null, a, b, [24], 1), null);
      assert.equal(smallLoraLinear(x, w, null, a, b, [20], 1), null, "parts must cover the output");
      assert.equal(smallLoraLinear(x, w, null, a, b, [12, 12], 1), null, "one A block per part");
    });
    const trainableB = randn([24, 4]);
    trainableB.setRequiresGrad(true);
    enableGrad(() => assert.equal(smallLoraLinear(x, w, null, a, trainableB, [24], 1), null));
  }));

/** rotate_half RoPE in float32: x cos + cat(-x2, x1) sin. */
function rope(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const half = x.size(-1) / 2;
  const rotated = cat([x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)], -1);
  return x.mul(cos).add(rotated.mul(sin));
}

test("decode attention: RoPE, the cache write and grouped-query attention with a mask, in one call", () =>
  scope(() =>
    noGrad(() => {
      manualSeed(5);
      const [B, heads, kvHeads, D, capacity, L] = [3, 6, 2, 32, 12, 7];
      const group = heads / kvHeads;
      const qkv = randn([B, 1, (heads + 2 * kvHeads) * D]).to("bfloat16");
      const angle = randn([B, 1, 1, D]);
      const cos = angle.cos().to("bfloat16");
      const sin = angle.sin().to("bfloat16");
      const keys = randn([B, kvHeads, capacity, D]).to("bfloat16");
      const values = randn([B, kvHeads, capacity, D]).to("bfloat16");
      const keysBefore = keys.clone();
      // Row 1 hides its first three positions (left padding); the others see everything.
      const hidden = tensor(
        Array.from({ length: B * (L + 1) }, (_, i) => Math.floor(i / (L + 1)) === 1 && i % (L + 1) < 3),
        { dtype: "bool", shape: [B, 1, 1, L + 1] },
      );
      // The kernel takes the model's attention mask: true where a position may be attended.
      const visible = hidden.logicalNot();
      const scale = 1 / Math.sqrt(D);
      const out = decodeAttention(qkv, { cos, sin }, { keys, values }, L, visible, heads, kvHeads, scale);
      if (!support.attention) {
        assert.equal(out, null, "no AVX-512: the kernel declines");
        assert.deepEqual(keys.toArray(), keysBefore.toArray(), "and writes nothing");
        return;
      }
      assert.ok(out !== null);
      assert.deepEqual(out.shape, [B, 1, heads * D]);

      const all = qkv.float().view(B, heads + 2 * kvHeads, D);
      const c = cos.float().view(B, 1, D);
      const s = sin.float().view(B, 1, D);
      const q = rope(all.narrow(1, 0, heads), c, s); // [B, heads, D]
      const k = rope(all.narrow(1, heads, kvHeads), c, s);
      const v = all.narrow(1, heads + kvHeads, kvHeads);
      // The new position was written into the cache, the positions before it left alone.
      const writtenK = keys.narrow(2, L, 1).squeeze(2).float();
      // Three bf16 roundings of terms of size ~1 (x cos, rotate_half(x) sin, their sum).
      const keyError = writtenK.sub(k).abs().max().item();
      assert.ok(keyError <= 0.03, `rotated keys written at position L: ${keyError}`);
      assert.deepEqual(values.narrow(2, L, 1).squeeze(2).toArray(), v.to("bfloat16").toArray());
      assert.deepEqual(keys.narrow(2, 0, L).toArray(), keysBefore.narrow(2, 0, L).toArray());

      // Reference attention in float32 over the cache's first L + 1 positions.
      const K = keys.narrow(2, 0, L + 1).float(); // [B, kvHeads, T, D]
      const V = values.narrow(2, 0, L + 1).float();
      const qg = q.view(B, kvHeads, group, D);
      let scores = qg.matmul(K.transpose(-2, -1)).mul(scale); // [B, kvHeads, group, T]
      scores = scores.maskedFill(hidden.view(B, 1, 1, L + 1), -1e30);
      const expected = scores
        .softmax(-1)
        .matmul(V)
        .reshape(B, 1, heads * D);
      const error = out.float().sub(expected).abs().max().item();
      assert.ok(error < 0.03, `attention output within bf16 rounding of the float32 reference: ${error}`);
    }),
  ));

test("decode attention declines autograd, float32 and a position past the cache", () =>
  scope(() => {
    const qkv = randn([1, 1, 4 * 16]).to("bfloat16");
    const angles = {
      cos: zeros([1, 1, 1, 16], { dtype: "bfloat16" }),
      sin: zeros([1, 1, 1, 16], { dtype: "bfloat16" }),
    };
    const cache = {
      keys: zeros([1, 1, 4, 16], { dtype: "bfloat16" }),
      values: zeros([1, 1, 4, 16], { dtype: "bfloat16" }),
    };
    noGrad(() => {
      assert.equal(decodeAttention(qkv.float(), angles, cache, 0, null, 2, 1, 0.25), null);
      assert.equal(decodeAttention(qkv, angles, cache, 4, null, 2, 1, 0.25), null, "position 4 of 4");
      assert.equal(decodeAttention(qkv, angles, cache, 0, null, 3, 1, 0.25), null, "width must match heads");
    });
    enableGrad(() => assert.equal(decodeAttention(qkv, angles, cache, 0, null, 2, 1, 0.25), null));
  }));

test("a bf16 model decodes from its KV cache with the kernels as with the operators", () =>
  scope(() =>
    noGrad(() => {
      const model = CausalLM.load(join(FIXTURES_DIR, "qwen2-tiny"), { dtype: "bfloat16", device: "cpu" });
      loadLora(model, join(FIXTURES_DIR, "qwen2-tiny-lora"));
      const prompt = tensor(
        [
          [0, 0, 0, 5, 17, 3, 9, 44],
          [7, 21, 8, 2, 31, 4, 6, 19],
        ],
        { dtype: "int64" },
      );
      const promptMask = tensor(
        [
          [0, 0, 0, 1, 1, 1, 1, 1],
          [1, 1, 1, 1, 1, 1, 1, 1],
        ],
        { dtype: "int64" },
      );
      const fed = [
        [11, 12],
        [40, 3],
        [7, 7],
        [100, 250],
        [33, 1],
      ];
      /** Logits of every fed token, decoding one position at a time from the cache. */
      const decode = (): Tensor[] =>
        scope(() => {
          const cache = new KVCache(model.config, 2, { capacity: 4 }); // grows while decoding
          let mask = promptMask;
          const positions = [4, 7];
          const prefillPositions = tensor(
            [
              [0, 0, 0, 0, 1, 2, 3, 4],
              [0, 1, 2, 3, 4, 5, 6, 7],
            ],
            { dtype: "int64" },
          );
          model.forward(prompt, { attentionMask: mask, positionIds: prefillPositions, cache });
          const out: Tensor[] = [];
          for (const ids of fed) {
            mask = cat([mask, tensor([[1], [1]], { dtype: "int64" })], 1);
            for (let r = 0; r < 2; r++) positions[r] = (positions[r] as number) + 1;
            const logits = model.forward(tensor(ids, { dtype: "int64", shape: [2, 1] }), {
              attentionMask: mask,
              positionIds: tensor(positions, { dtype: "int64", shape: [2, 1] }),
              cache,
            });
            out.push(logits.float());
          }
          cache.dispose();
          return out;
        });
      const { result: withKernels, ops } = countOps(decode);
      const ran = (name: string) => ops.byName.some((op) => op.name === name);
      assert.equal(
        ran("wordle::decode_attention"),
        support.attention,
        "the attention kernel served the decode steps",
      );
      assert.equal(ran("wordle::lora_small_linear"), support.linear, "the projection kernel served them");
      const withOperators = withoutKernels(decode);
      withKernels.forEach((logits, step) => {
        const reference = withOperators[step] as Tensor;
        const spread = reference.abs().max().item();
        const error = logits.sub(reference).abs().max().item();
        // bf16 activations through two layers: differences of a few bf16 roundings of the logits.
        assert.ok(
          error <= 0.03 * spread,
          `step ${step}: max |difference| ${error} against logits up to ${spread}`,
        );
      });
    }),
  ));

test("the LoRA epilogue gives PEFT's bf16 sum and addmm's gradients, on strided parts of a fused output", () =>
  scope(() => {
    manualSeed(6);
    const [tokens, total, n, r, scale] = [37, 50, 30, 8, 1.5];
    const whole = randn([tokens, total]).to("bfloat16");
    whole.setRequiresGrad(true);
    const down = randn([tokens, r]).mul(0.3);
    down.setRequiresGrad(true);
    const b = randn([n, r]).mul(0.3);
    b.setRequiresGrad(true);
    const upstream = randn([tokens, n]).to("bfloat16");
    /** out, and the gradients of sum(out * upstream) with respect to whole, down and b. */
    const run = (fused: boolean) =>
      enableGrad(() => {
        const part = whole.narrow(1, 10, n); // rows strided by `total`, as a split of q/k/v
        let out: Tensor;
        if (fused) {
          const got = loraEpilogue(part, down, b, scale);
          if (!got) return null;
          out = got;
        } else {
          out = part.float().addmm(down, b.transpose(0, 1), { alpha: scale }).to("bfloat16");
        }
        const [gWhole, gDown, gB] = grad([out.mul(upstream).sum()], [whole, down, b]) as [
          Tensor,
          Tensor,
          Tensor,
        ];
        return { out, gWhole, gDown, gB };
      });
    const fused = run(true);
    if (!support.loraEpilogue) {
      assert.equal(fused, null, "no AVX-512: the kernel declines");
      return;
    }
    assert.ok(fused !== null);
    const ops = run(false) as NonNullable<typeof fused>;
    assert.ok(maxRelative(fused.out, ops.out, 0.05) <= 2 ** -7, "forward within one bf16 rounding");
    assert.deepEqual(
      fused.gWhole.toArray(),
      ops.gWhole.toArray(),
      "the base's gradient is the output's, exactly",
    );
    assert.ok(maxRelative(fused.gDown, ops.gDown, 1e-3) < 1e-5, "down's gradient as addmm's backward");
    assert.ok(maxRelative(fused.gB, ops.gB, 1e-3) < 1e-5, "B's gradient as addmm's backward");
  }));
