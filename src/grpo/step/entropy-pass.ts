import type { Device } from "../../engine/dtype.js";
import { cat, enableGrad, getRngState, noGrad, scope, setRngState, type Tensor } from "../../engine/index.js";
import { defaultChunkSize, headDistributionLogits, softmaxEntropy } from "../../model/logprobs.js";
import type { CausalLM } from "../../model/transformer.js";
import type { MicroBatch } from "./micro-batch.js";

/**
 * The policy's entropy at each completion position of a micro-batch, for what must be known before
 * the loss is formed (top_entropy_quantile's token mask) and for what needs the entropy's own
 * gradient (the entropy bonus). model/checkpointing.ts's forwardBackward lets the loss depend on
 * the log-probs only, so these come from a pass of their own:
 *
 *   H_t = logsumexp(z) − Σ_v softmax(z)_v · z_v,   z = logits / temperature
 *
 * With `bonusGradient` the pass also backpropagates Σ_t g_t · H_t, where g = bonusGradient(H) is
 * d(loss)/dH of the entropy term, into the LoRA gradients (which then accumulate the policy term's
 * gradient from forwardBackward). The trunk keeps its activations for that backward pass (no
 * per-block checkpointing); the vocabulary-wide head runs chunk by chunk, forward and backward.
 *
 * Constrained decoding: with `blocked` [B, K, V] (the micro-batch's mask of tokens each filter did
 * not allow) the entropies are over the allowed tokens, as the policy pass computes them.
 *
 * Dropout: the pass draws from the generator state the policy pass will start from and then puts
 * that state back, so both passes see the same dropout masks, i.e. the same network.
 */
export function completionEntropies(
  model: CausalLM,
  mb: MicroBatch,
  temperature: number,
  bonusGradient?: (entropies: Tensor) => Tensor,
  blocked?: Tensor,
): Tensor {
  const rng = dropoutGenerator(model);
  const saved = rng === null ? null : getRngState(rng);
  try {
    return scope(() => {
      const [B, K] = mb.targets.shape as [number, number];
      const S = mb.inputIds.size(1);
      const run = () =>
        model.forward(mb.inputIds, {
          attentionMask: mb.attentionMask,
          positionIds: mb.positionIds,
          hiddenOnly: true,
        });
      const hidden = bonusGradient ? enableGrad(run) : noGrad(run);
      // The hidden state at column S − 1 − K + k predicts completion token k.
      const rows = hidden.narrow(1, S - 1 - K, K).reshape(B * K, model.config.hiddenSize);
      const chunk = defaultChunkSize(model.config.vocabSize);
      const flatBlocked = blocked?.reshape(B * K, model.config.vocabSize);
      // Over the allowed tokens only when decoding was constrained (a blocked token has p = 0).
      const entropyOf = (h: Tensor, c: number) => {
        const mask = flatBlocked?.narrow(0, c, h.size(0));
        const z = headDistributionLogits(model.lmHead(h), temperature, mask);
        return softmaxEntropy(z, z.logsumexp(-1), mask);
      };
      const pieces: Tensor[] = [];
      noGrad(() => {
        for (let c = 0; c < B * K; c += chunk)
          pieces.push(entropyOf(rows.narrow(0, c, Math.min(chunk, B * K - c)), c));
      });
      const entropies = (pieces.length === 1 ? pieces[0]! : cat(pieces, 0)).view(B, K);
      if (!bonusGradient) return entropies;

      const g = noGrad(() => bonusGradient(entropies)).reshape(B * K);
      const leaf = rows.detach().setRequiresGrad(true);
      enableGrad(() => {
        for (let c = 0; c < B * K; c += chunk) {
          const len = Math.min(chunk, B * K - c);
          scope(() => entropyOf(leaf.narrow(0, c, len), c).backward(g.narrow(0, c, len)));
        }
      });
      const dRows = leaf.grad;
      if (dRows !== null) enableGrad(() => rows.backward(dRows));
      return entropies;
    });
  } finally {
    if (rng !== null && saved !== null) setRngState(saved, rng);
  }
}

/** The generator dropout draws from on the model's device; null where none can be saved and replayed. */
function dropoutGenerator(model: CausalLM): Device | null {
  const device = model.device;
  return device === "cpu" || device.startsWith("cuda") ? device : null;
}
