/**
 * One forward + backward pass of the policy for a loss built on per-token log-probs, with optional
 * gradient checkpointing per decoder block. This is how the trainer computes LoRA gradients.
 *
 *   const { loss, logprobs, entropy } = forwardBackward(model, inputIds, {
 *     attentionMask, positionIds, targets, checkpointed: true, temperature, entropy: true,
 *   }, (logprobs) => grpoLoss(logprobs, oldLogprobs, advantages, mask));
 *   // LoRA parameters' .grad now hold d loss / d param (accumulated: zero them between steps)
 *
 * How (three stages, each keeping little in memory):
 * 1. Trunk. Plain: the blocks run under autograd (every block's activations are kept).
 *    Checkpointed: the blocks run under noGrad and only each block's input is kept.
 * 2. Head. The last block's output is detached into a leaf H that requires grad. Log-probs are
 *    computed under noGrad chunk by chunk, turned into a leaf L, the loss closure runs on L with
 *    autograd, and loss.backward() gives dloss/dL. Then, chunk by chunk, the head (final norm,
 *    lm_head, log-softmax, gather) is recomputed with autograd from H's rows and backpropagated
 *    with its slice of dloss/dL, which accumulates dloss/dH. Full-vocabulary float32 logits thus
 *    never exist for more than one chunk, in the forward or the backward pass.
 * 3. Trunk backward. Plain: backpropagate dloss/dH through the recorded graph. Checkpointed: for
 *    each block from the last: recompute it with autograd from its saved input (detached, requiring
 *    grad), backpropagate the output gradient, and pass the input's gradient down.
 * With LoRA dropout in training mode the recomputation replays the random generator state the
 * block saw in stage 1, so both passes drop the same units.
 *
 * Both modes give the same gradients (the recomputation repeats the same operations on the same
 * inputs). The loss may only depend on the log-probs it is given (entropy is for logging).
 */
import type { Device } from "../engine/dtype.js";
import { enableGrad, getRngState, noGrad, scope, setRngState } from "../engine/index.js";
import type { Tensor } from "../engine/tensor.js";
import { defaultChunkSize, headLogProbs } from "./logprobs.js";
import type { CausalLM, ForwardOptions } from "./transformer.js";

export interface ForwardBackwardOptions {
  attentionMask?: Tensor;
  positionIds?: Tensor;
  /**
   * int64 [B, K]: the tokens to score. targets[:, k] is scored from the hidden state at position
   * targetStart + k (which predicts the next token).
   */
  targets: Tensor;
  /** First scored position; default S - 1 - K, i.e. the targets are the last K tokens of inputIds. */
  targetStart?: number;
  /** Recompute each block in the backward pass instead of keeping its activations (default true). */
  checkpointed?: boolean;
  chunkSize?: number;
  temperature?: number;
  /** Also return per-token entropy (no gradient). */
  entropy?: boolean;
  /** bool [B, K, V]: tokens not allowed at each scored position (logprobs.ts's `blocked`). */
  blocked?: Tensor;
}

export interface ForwardBackwardResult {
  loss: number;
  /** float32 [B, K], detached; belongs to the caller's scope (or to the caller outside any scope). */
  logprobs: Tensor;
  entropy: Tensor | null;
}

/** The generator a dropout on this device draws from (null: none we can save and replay). */
function rngDevice(device: Device): Device | null {
  if (device === "cpu" || device.startsWith("cuda")) return device;
  return null;
}

export function forwardBackward(
  model: CausalLM,
  inputIds: Tensor,
  options: ForwardBackwardOptions,
  lossFn: (logprobs: Tensor) => Tensor,
): ForwardBackwardResult {
  const checkpointed = options.checkpointed ?? true;
  const forwardOptions: ForwardOptions = {
    attentionMask: options.attentionMask,
    positionIds: options.positionIds,
  };
  const [b, s] = inputIds.shape as [number, number];
  const { targets } = options;
  if (targets.ndim !== 2 || targets.size(0) !== b)
    throw new Error(`forwardBackward: targets must be [${b}, K], got [${targets.shape}]`);
  const k = targets.size(1);
  const vocab = model.config.vocabSize;
  if (
    options.blocked &&
    !(options.blocked.ndim === 3 && options.blocked.shape.join() === [b, k, vocab].join())
  )
    throw new Error(
      `forwardBackward: blocked must be [${b}, ${k}, ${vocab}], got [${options.blocked.shape}]`,
    );
  const start = options.targetStart ?? s - 1 - k;
  if (!Number.isInteger(start) || start < 0 || start + k > s)
    throw new Error(`forwardBackward: positions ${start}..${start + k - 1} are outside a sequence of ${s}`);
  const layers = model.config.numHiddenLayers;
  const replayDropout = checkpointed && model.training && model.adapter?.enabled === true;
  const rng = replayDropout ? rngDevice(model.device) : null;

  const result = scope(() => {
    const ctx = model.prepare(inputIds, forwardOptions);
    const blockInputs: Tensor[] = [];
    const rngStates: Uint8Array[] = [];

    // 1. Trunk forward.
    const runTrunk = (): Tensor => {
      let h = model.embed(ctx.ids);
      for (let i = 0; i < layers; i++) {
        if (checkpointed) blockInputs.push(h);
        if (rng) rngStates.push(getRngState(rng));
        h = model.block(i, h, ctx);
      }
      return h;
    };
    const last = checkpointed ? noGrad(runTrunk) : enableGrad(runTrunk);

    // 2. Head: no-grad log-probs, the loss on a leaf, then the head's backward chunk by chunk.
    const hiddenLeaf = last.detach().setRequiresGrad(true);
    const hidden = model.config.hiddenSize;
    const rows = hiddenLeaf.narrow(1, start, k).reshape(b * k, hidden);
    const flatTargets = targets.to({ dtype: "int64", device: model.device }).reshape(b * k);
    const blocked = options.blocked?.reshape(b * k, vocab);
    const headOptions = {
      chunkSize: options.chunkSize ?? defaultChunkSize(model.config.vocabSize),
      temperature: options.temperature,
      normalize: true,
    };
    const scored = noGrad(() =>
      headLogProbs(model, rows, flatTargets, { ...headOptions, blocked, entropy: options.entropy }),
    );
    const logprobLeaf = scored.logprobs.view(b, k).detach().setRequiresGrad(true);
    const loss = enableGrad(() => lossFn(logprobLeaf));
    if (loss.numel !== 1)
      throw new Error(`forwardBackward: the loss must be a single number, got shape [${loss.shape}]`);
    if (!loss.requiresGrad)
      throw new Error("forwardBackward: the loss does not depend on the log-probs it was given");
    const lossValue = loss.item();
    enableGrad(() => loss.backward());
    const dLogprobs = logprobLeaf.grad;
    if (dLogprobs === null)
      throw new Error("forwardBackward: the loss does not depend on the log-probs it was given");
    const dFlat = dLogprobs.reshape(b * k);
    const chunk = headOptions.chunkSize;
    enableGrad(() => {
      for (let c = 0; c < b * k; c += chunk) {
        const len = Math.min(chunk, b * k - c);
        scope(() => {
          const lp = headLogProbs(model, rows.narrow(0, c, len), flatTargets.narrow(0, c, len), {
            ...headOptions,
            blocked: blocked?.narrow(0, c, len),
            chunkSize: len,
          }).logprobs;
          lp.backward(dFlat.narrow(0, c, len));
        });
      }
    });
    const dHidden = hiddenLeaf.grad;
    if (dHidden === null) throw new Error("forwardBackward: no gradient reached the hidden states");

    // 3. Trunk backward.
    if (!checkpointed) {
      enableGrad(() => last.backward(dHidden));
    } else {
      let grad: Tensor = dHidden;
      for (let i = layers - 1; i >= 0; i--) {
        const savedInput = blockInputs[i] as Tensor;
        const savedRng = rngStates[i];
        const previous = grad;
        grad = scope(() => {
          const needInputGrad = i > 0;
          const input = needInputGrad ? savedInput.detach().setRequiresGrad(true) : savedInput;
          let outerRng: Uint8Array | null = null;
          if (rng && savedRng) {
            outerRng = getRngState(rng);
            setRngState(savedRng, rng);
          }
          const out = enableGrad(() => model.block(i, input, ctx));
          if (rng && outerRng) setRngState(outerRng, rng);
          enableGrad(() => out.backward(grad));
          if (!needInputGrad) return grad;
          const inputGrad = input.grad;
          if (inputGrad === null)
            throw new Error(`forwardBackward: no gradient reached the input of block ${i}`);
          return inputGrad;
        });
        savedInput.dispose();
        if (grad !== previous) previous.dispose();
      }
    }
    return {
      loss: lossValue,
      logprobs: scored.logprobs.view(b, k),
      entropy: scored.entropy ? scored.entropy.view(b, k) : null,
    };
  });
  return result;
}
