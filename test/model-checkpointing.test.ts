import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import {
  type DType,
  enableGrad,
  fromBytes,
  liveTensorCount,
  manualSeed,
  noGrad,
  scope,
  type Tensor,
  tensor,
} from "../src/engine/index.js";
import { readSafetensors } from "../src/engine/safetensors.js";
import { loadLora } from "../src/model/load.js";
import { sequenceLogProbs, tokenLogProbs } from "../src/model/logprobs.js";
import { LoraAdapter } from "../src/model/lora.js";
import { CausalLM } from "../src/model/transformer.js";
import { FIXTURES_DIR } from "../src/paths.js";
import { Rng } from "../src/util/rng.js";

const TINY = join(FIXTURES_DIR, "qwen2-tiny");
const LORA = join(FIXTURES_DIR, "qwen2-tiny-lora");
const baseRef = readSafetensors(join(TINY, "reference.safetensors")).tensors;
const loraRef = readSafetensors(join(LORA, "reference.safetensors")).tensors;

function ref(file: typeof baseRef, name: string, dtype: DType): Tensor {
  const entry = file.get(name);
  if (!entry) throw new Error(`reference has no ${name}`);
  return fromBytes(entry.data, dtype, entry.shape);
}

function batch() {
  return {
    ids: ref(baseRef, "input_ids", "int64"),
    mask: ref(baseRef, "attention_mask", "int64"),
    pos: ref(baseRef, "position_ids", "int64"),
  };
}

/** The fixture's loss on next-token log-probs [2, 11]. */
function fixtureLoss(logprobs: Tensor, mask: Tensor): Tensor {
  const pairs = mask
    .narrow(1, 0, 11)
    .mul(mask.narrow(1, 1, 11))
    .float();
  return logprobs.mul(pairs).sum().neg().div(pairs.sum());
}

/** Runs fn after clearing the adapter's grads and returns a float64 copy of every grad by name. */
function gradsOf(model: CausalLM, fn: () => void): Map<string, Float64Array> {
  const params = model.adapter?.parameters() ?? [];
  for (const p of params) p.tensor.zeroGrad();
  fn();
  const out = new Map<string, Float64Array>();
  scope(() => {
    for (const p of params) {
      const g = p.tensor.grad;
      assert.ok(g, `${p.name} got a gradient`);
      out.set(p.name, g.toFloat64Array());
    }
  });
  for (const p of params) p.tensor.zeroGrad();
  return out;
}

/** Largest (max |a - b| / max |b|) over all parameters. */
function worstRelative(a: Map<string, Float64Array>, b: Map<string, Float64Array>): number {
  let worst = 0;
  for (const [name, want] of b) {
    const got = a.get(name);
    assert.ok(got, name);
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < want.length; i++) {
      diff = Math.max(diff, Math.abs((got[i] as number) - (want[i] as number)));
      scale = Math.max(scale, Math.abs(want[i] as number));
    }
    worst = Math.max(worst, diff / scale);
  }
  return worst;
}

const model = CausalLM.load(TINY);
loadLora(model, LORA);

function forwardBackward(
  checkpointed: boolean,
  extra: { chunkSize?: number; temperature?: number; blocked?: Tensor } = {},
) {
  return scope(() => {
    const { ids, mask, pos } = batch();
    const result = model.forwardBackward(
      ids,
      {
        attentionMask: mask,
        positionIds: pos,
        targets: ids.narrow(1, 1, 11),
        checkpointed,
        entropy: true,
        ...extra,
      },
      (lp) => fixtureLoss(lp, mask),
    );
    return {
      loss: result.loss,
      logprobs: result.logprobs.toFloat32Array(),
      entropy: result.entropy?.toFloat32Array(),
    };
  });
}

test("checkpointed and plain backward give the same LoRA gradients (1e-6 relative, fp32)", () => {
  let plainOut: ReturnType<typeof forwardBackward> | undefined;
  let ckptOut: ReturnType<typeof forwardBackward> | undefined;
  const plain = gradsOf(model, () => {
    plainOut = forwardBackward(false);
  });
  const ckpt = gradsOf(model, () => {
    ckptOut = forwardBackward(true, { chunkSize: 3 });
  });
  const err = worstRelative(ckpt, plain);
  assert.ok(err < 1e-6, `checkpointed vs plain: ${err}`);
  assert.ok(plainOut && ckptOut);
  // Different chunk sizes change the matmul shapes, so allow last-bit differences.
  assert.ok(Math.abs(ckptOut.loss - plainOut.loss) <= 1e-6 * Math.abs(plainOut.loss));
  const plainLp = plainOut.logprobs;
  const close = (got: ArrayLike<number>, want: ArrayLike<number>, rel: number, abs = 0) => {
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) {
      const w = want[i] as number;
      assert.ok(Math.abs((got[i] as number) - w) <= rel * Math.abs(w) + abs, `index ${i}: ${got[i]} vs ${w}`);
    }
  };
  close(ckptOut.logprobs, plainLp, 1e-6);
  assert.equal(ckptOut.entropy?.length, 22);
  // sequenceLogProbs (no grad, same target convention) gives the same log-probs and entropies.
  scope(() => {
    const { ids, mask, pos } = batch();
    const scored = sequenceLogProbs(model, ids, {
      attentionMask: mask,
      positionIds: pos,
      targets: ids.narrow(1, 1, 11),
      entropy: true,
    });
    assert.equal(scored.logprobs.requiresGrad, false);
    const lp = scored.logprobs.toFloat32Array();
    const ent = (scored.entropy as Tensor).toFloat32Array();
    close(lp, plainLp, 1e-6);
    close(ent, ckptOut?.entropy ?? [], 0, 1e-5);
  });
});

test("forwardBackward equals plain autograd through forward + tokenLogProbs + loss.backward(), and PEFT's grads", () => {
  const autograd = gradsOf(model, () =>
    scope(() => {
      const { ids, mask, pos } = batch();
      const hidden = model.forward(ids, { attentionMask: mask, positionIds: pos, hiddenOnly: true });
      const { logprobs } = tokenLogProbs(model, hidden.narrow(1, 0, 11), ids.narrow(1, 1, 11));
      fixtureLoss(logprobs, mask).backward();
    }),
  );
  const ckpt = gradsOf(model, () => forwardBackward(true));
  assert.ok(worstRelative(ckpt, autograd) < 1e-6);
  const peft = new Map<string, Float64Array>();
  scope(() => {
    for (const name of autograd.keys()) {
      const key = `grad.${name.replace("base_model.model.", "").replace(/lora_([AB])\.weight$/, "lora_$1.default.weight")}`;
      peft.set(name, ref(loraRef, key, "float32").toFloat64Array());
    }
  });
  assert.ok(worstRelative(ckpt, peft) < 1e-4);
});

test("gradients accumulate across calls (micro-batches) until zeroed", () => {
  const once = gradsOf(model, () => forwardBackward(true));
  const twice = gradsOf(model, () => {
    forwardBackward(true);
    forwardBackward(false);
  });
  for (const [name, g] of once) {
    const doubled = twice.get(name) as Float64Array;
    for (let i = 0; i < g.length; i++)
      assert.ok(
        Math.abs((doubled[i] as number) - 2 * (g[i] as number)) <= 1e-6 * Math.abs(g[i] as number) + 1e-9,
      );
  }
});

test("with LoRA dropout in training mode, the recomputation replays the same dropout masks", () => {
  const m = CausalLM.load(TINY);
  try {
    manualSeed(3);
    m.adapter = LoraAdapter.init(m.config, {
      r: 4,
      loraAlpha: 8,
      targetModules: "all-linear",
      loraDropout: 0.3,
      useRslora: false,
      layersToTransform: null,
      baseModelNameOrPath: null,
    });
    noGrad(() => {
      for (const layer of m.adapter?.layers ?? [])
        for (const pair of Object.values(layer)) pair.b.fill_(0.02);
    });
    m.training = true;
    const run = (checkpointed: boolean) =>
      gradsOf(m, () =>
        scope(() => {
          manualSeed(11);
          const { ids, mask, pos } = batch();
          m.forwardBackward(
            ids,
            { attentionMask: mask, positionIds: pos, targets: ids.narrow(1, 1, 11), checkpointed },
            (lp) => fixtureLoss(lp, mask),
          );
        }),
      );
    const plain = run(false);
    const ckpt = run(true);
    assert.ok(worstRelative(ckpt, plain) < 1e-6);
    // And dropout really was active: another seed gives other gradients.
    const other = gradsOf(m, () =>
      scope(() => {
        manualSeed(12);
        const { ids, mask, pos } = batch();
        m.forwardBackward(
          ids,
          { attentionMask: mask, positionIds: pos, targets: ids.narrow(1, 1, 11) },
          (lp) => fixtureLoss(lp, mask),
        );
      }),
    );
    assert.ok(worstRelative(other, plain) > 1e-3);
  } finally {
    m.dispose();
  }
});

test("forwardBackward frees everything but its result; bad arguments are clear errors", () => {
  forwardBackward(true); // warm up lazily created state
  const before = liveTensorCount();
  forwardBackward(true);
  forwardBackward(false);
  assert.equal(liveTensorCount(), before);
  scope(() => {
    const { ids, mask } = batch();
    assert.throws(
      () => model.forwardBackward(ids, { targets: ids, attentionMask: mask }, (lp) => lp.sum()),
      /positions -1\.\.10 are outside a sequence of 12/,
    );
    assert.throws(
      () => model.forwardBackward(ids, { targets: ids.narrow(1, 1, 11) }, () => ids.float().sum()),
      /does not depend on the log-probs/,
    );
    assert.throws(
      () => model.forwardBackward(ids, { targets: ids.narrow(1, 1, 11) }, (lp) => lp),
      /single number/,
    );
  });
  for (const p of model.adapter?.parameters() ?? []) p.tensor.zeroGrad();
});

test("blocked tokens: log-probs, entropies and gradients are those of the softmax over the allowed tokens", () => {
  const vocab = model.config.vocabSize;
  const rng = new Rng(5);
  const { ids } = batch();
  const targets = ids.narrow(1, 1, 11).toFloat64Array();
  // Block most of the vocabulary at every position, never the target (as a sampler's filter never
  // blocks the token it then picked).
  const bits = new Uint8Array(2 * 11 * vocab).map(() => (rng.next() < 0.8 ? 1 : 0));
  targets.forEach((t, i) => {
    bits[i * vocab + t] = 0;
  });
  const blockedOf = () => tensor(bits, { dtype: "bool", shape: [2, 11, vocab] });
  let plainOut: ReturnType<typeof forwardBackward> | undefined;
  let ckptOut: ReturnType<typeof forwardBackward> | undefined;
  const plain = gradsOf(model, () => {
    plainOut = scope(() => forwardBackward(false, { blocked: blockedOf(), temperature: 0.7 }));
  });
  const ckpt = gradsOf(model, () => {
    ckptOut = scope(() => forwardBackward(true, { chunkSize: 3, blocked: blockedOf(), temperature: 0.7 }));
  });
  assert.ok(worstRelative(ckpt, plain) < 1e-6);
  // The reference: the whole forward under autograd, blocked logits at -inf, log-softmax.
  let reference: { logprobs: Float32Array; entropy: Float32Array } | undefined;
  const direct = gradsOf(model, () => {
    reference = scope(() =>
      enableGrad(() => {
        const { ids: input, mask, pos } = batch();
        const logits = model
          .forward(input, { attentionMask: mask, positionIds: pos })
          .narrow(1, 0, 11)
          .div(0.7)
          .maskedFill(blockedOf(), Number.NEGATIVE_INFINITY);
        const logp = logits.logSoftmax(-1);
        const lp = logp.gather(-1, input.narrow(1, 1, 11).unsqueeze(-1)).squeeze(-1);
        fixtureLoss(lp, mask).backward();
        const p = logp.exp();
        const entropy = p.mul(logp.maskedFill(blockedOf(), 0)).sum(-1).neg();
        return { logprobs: lp.detach().toFloat32Array(), entropy: entropy.detach().toFloat32Array() };
      }),
    );
  });
  assert.ok(
    worstRelative(ckpt, direct) < 1e-5,
    `vs the direct masked softmax: ${worstRelative(ckpt, direct)}`,
  );
  assert.ok(plainOut && ckptOut && reference);
  for (let i = 0; i < 22; i++) {
    assert.ok(
      Math.abs((ckptOut.logprobs[i] as number) - (reference.logprobs[i] as number)) < 1e-5,
      `logprob ${i}`,
    );
    const allowed = vocab - bits.slice(i * vocab, (i + 1) * vocab).reduce((n, x) => n + x, 0);
    const h = ckptOut.entropy?.[i] as number;
    assert.ok(
      Math.abs(h - (reference.entropy[i] as number)) < 1e-4 && h <= Math.log(allowed) + 1e-5,
      `entropy ${i}: ${h}`,
    );
  }
});
