/**
 * q/k/v, and gate/up, as one weight matrix each: the projections that read the same input run as
 * one matmul instead of three (two), and their LoRA updates likewise.
 *
 *   [q | k | v] = x [Wq; Wk; Wv]^T + [bq; bk; bv]
 *
 * fuseProjections concatenates a frozen weight set's q/k/v (gate/up) rows once, in the layout the
 * weights already have (row-major or input-major, weights.ts), and replaces the separate weights
 * by views of the fused matrix: no extra memory, and everything that reads qProj / upProj
 * (exports, the LoRA maths, tests) still sees the same values.
 *
 * fusedLoraLinears computes the fused projection with each part's optional LoRA update. When every
 * part has an adapter of the same rank and scale (PEFT gives them one), the down-projections run
 * as one matmul too, x [A_q; A_k; A_v]^T, and, at inference, the up-projections as one addmm with
 * the block-diagonal matrix of the B's (zeros elsewhere add nothing). Output columns are the same
 * sums as separate projections, so results are unchanged (test/model-fused.test.ts checks them
 * bit for bit against the unfused path, and greedy play of the shipped model).
 */
import { cat, isGradEnabled, keep, noGrad, scope, type Tensor, zeros } from "../engine/index.js";
import { decodeLoraLinear, derivedFromPairs, type LoraPair, withLoraUpdate } from "./lora.js";
import { inputMajor, isInputMajor, type LinearWeights, type ModelWeights } from "./weights.js";

/** One fused projection: the whole matrix (the parts are views of it) and each part's width. */
export interface FusedLinear {
  whole: LinearWeights;
  sizes: number[];
}

export interface FusedLayerProjections {
  qkv: FusedLinear;
  gateUp: FusedLinear;
}

/** Concatenates the parts' rows into one matrix and returns it with a view per part. */
function fuse(parts: readonly LinearWeights[]): { fused: FusedLinear; views: LinearWeights[] } {
  return keep(
    scope(() =>
      noGrad(() => {
        const rows = cat(
          parts.map((p) => p.weight),
          0,
        );
        const weight = isInputMajor(parts[0]?.weight as Tensor) ? inputMajor(rows) : rows;
        const biases = parts.map((p) => p.bias);
        const bias = biases.every((b) => b !== null) ? cat(biases as Tensor[], 0) : null;
        if (bias === null && biases.some((b) => b !== null))
          throw new Error("fuseProjections: either every fused projection has a bias or none has");
        const sizes = parts.map((p) => p.weight.size(0));
        let offset = 0;
        const views = sizes.map((n) => {
          const view = {
            weight: weight.narrow(0, offset, n),
            bias: bias === null ? null : bias.narrow(0, offset, n),
          };
          offset += n;
          return view;
        });
        return { fused: { whole: { weight, bias }, sizes }, views };
      }),
    ),
  );
}

/**
 * Fuses every layer's q/k/v and gate/up (frozen weights: a weight that requires grad is left as
 * it is). Returns the new weight set; the separate tensors it replaced are disposed.
 */
export function fuseProjections(weights: ModelWeights): ModelWeights {
  return {
    ...weights,
    layers: weights.layers.map((layer) => {
      const all = [layer.qProj, layer.kProj, layer.vProj, layer.gateProj, layer.upProj];
      if (layer.fused || all.some((l) => l.weight.requiresGrad || l.bias?.requiresGrad)) return layer;
      const qkv = fuse([layer.qProj, layer.kProj, layer.vProj]);
      const gateUp = fuse([layer.gateProj, layer.upProj]);
      for (const l of all) {
        l.weight.dispose();
        l.bias?.dispose();
      }
      const [qProj, kProj, vProj] = qkv.views as [LinearWeights, LinearWeights, LinearWeights];
      const [gateProj, upProj] = gateUp.views as [LinearWeights, LinearWeights];
      return {
        ...layer,
        qProj,
        kProj,
        vProj,
        gateProj,
        upProj,
        fused: { qkv: qkv.fused, gateUp: gateUp.fused },
      };
    }),
  };
}

/** [B_1 0 ..; 0 B_2 ..; ..]^T: the parts' up-projections as one [parts * r, total] matrix. */
function blockDiagonalUp(loras: readonly LoraPair[]): Tensor {
  return derivedFromPairs(loras, "up", () => {
    const first = loras[0] as LoraPair;
    const rank = first.b.size(1);
    const total = loras.reduce((n, l) => n + l.b.size(0), 0);
    const m = zeros([loras.length * rank, total], { dtype: first.b.dtype, device: first.b.device });
    let offset = 0;
    loras.forEach((l, i) => {
      m.narrow(0, i * rank, rank)
        .narrow(1, offset, l.b.size(0))
        .copy_(l.b.transpose(0, 1));
      offset += l.b.size(0);
    });
    return m;
  });
}

/** Whether the parts' adapters can share one down-projection (and one up-projection). */
function alike(loras: readonly (LoraPair | undefined)[], training: boolean): loras is LoraPair[] {
  const first = loras[0];
  if (!first) return false;
  return loras.every(
    (l) =>
      l !== undefined &&
      l.a.size(0) === first.a.size(0) &&
      l.scale === first.scale &&
      l.a.dtype === first.a.dtype &&
      (!training || l.dropout === 0),
  );
}

/**
 * The fused projection's parts, each with its optional LoRA update (see the file header), and,
 * where one tensor holds them all side by side (no adapter, or inference), that tensor.
 */
export function fusedLoraLinears(
  x: Tensor,
  fused: FusedLinear,
  loras: readonly (LoraPair | undefined)[],
  training: boolean,
): { whole: Tensor | null; parts: Tensor[] } {
  const { whole, sizes } = fused;
  const total = sizes.reduce((n, s) => n + s, 0);
  const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((n, s) => n + s, 0));
  const columns = (t: Tensor) => sizes.map((n, i) => t.narrow(-1, offsets[i] as number, n));
  if (!isGradEnabled() && alike(loras, training)) {
    const decoded = decodeLoraLinear(x, whole, loras);
    if (decoded) return { whole: decoded, parts: columns(decoded) };
  }
  const base = x.linear(whole.weight, whole.bias);
  const first = loras.find((l) => l !== undefined);
  if (!first) return { whole: base, parts: columns(base) };

  const input = x.dtype === first.a.dtype ? x : x.to(first.a.dtype);
  // Adapters alike (and no dropout to draw per part): one down-projection for all parts.
  // Training concatenates the A's in the graph (each gets its block of the gradient); inference
  // reuses one concatenation until an optimizer step changes an A.
  let sharedDown: Tensor[] | null = null;
  if (alike(loras, training)) {
    const rank = first.a.size(0);
    const concatenated = () =>
      cat(
        loras.map((l) => l.a),
        0,
      );
    const downWeight = isGradEnabled() ? concatenated() : derivedFromPairs(loras, "down", concatenated);
    const down = input.linear(downWeight).reshape(-1, loras.length * rank); // [tokens, parts * r]
    if (!isGradEnabled()) {
      const start = (base.dtype === first.a.dtype ? base : base.to(first.a.dtype)).reshape(-1, total);
      const sum = start.addmm(down, blockDiagonalUp(loras), { alpha: first.scale });
      const out = (sum.dtype === base.dtype ? sum : sum.to(base.dtype)).view(...base.shape);
      return { whole: out, parts: columns(out) };
    }
    sharedDown = down.split(rank, 1);
  }
  // One update per part, so each B receives only its own block's gradient. split, not narrow: its
  // backward assembles the parts' gradients in one tensor, where each narrow's would zero-fill a
  // whole [tokens, total] gradient of its own.
  const baseParts = base.split(sizes, -1);
  const parts = loras.map((l, i) => {
    const part = baseParts[i] as Tensor;
    return l ? withLoraUpdate(part, input, l, training, sharedDown?.[i]) : part;
  });
  return { whole: null, parts };
}
