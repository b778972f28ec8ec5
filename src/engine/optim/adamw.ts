// AdamW (Loshchilov & Hutter) with torch.optim.AdamW semantics:
//   p <- p * (1 - lr * weight_decay)                       decoupled weight decay
//   m <- beta1 * m + (1 - beta1) * g                       first moment
//   v <- beta2 * v + (1 - beta2) * g^2                     second moment
//   p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// Parameters without a gradient are skipped (their step count does not advance).
import { zerosLike } from "../create.js";
import { keep, noGrad, scope } from "../scope.js";
import type { Tensor } from "../tensor.js";
import {
  checkParams,
  fromStateBuffer,
  type OptimizerState,
  type StateBuffer,
  toStateBuffer,
} from "./state.js";

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

interface Moments {
  expAvg: Tensor;
  expAvgSq: Tensor;
}

export class AdamW {
  /** Learning rate used by the next step(); a scheduler may change it between steps. */
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly steps: number[];
  private readonly moments: (Moments | undefined)[];

  /** Defaults as torch.optim.AdamW: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01. */
  constructor(
    readonly params: readonly Tensor[],
    options: AdamWOptions = {},
  ) {
    checkParams(params, "AdamW");
    this.lr = options.lr ?? 1e-3;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 1e-2;
    for (const [name, value] of Object.entries({
      lr: this.lr,
      eps: this.eps,
      weightDecay: this.weightDecay,
    })) {
      if (!(value >= 0)) throw new Error(`AdamW: ${name} must be >= 0, got ${value}`);
    }
    for (const b of [this.beta1, this.beta2])
      if (!(b >= 0 && b < 1)) throw new Error(`AdamW: betas must be in [0, 1), got ${b}`);
    this.steps = params.map(() => 0);
    this.moments = params.map(() => undefined);
  }

  step(): void {
    noGrad(() => {
      this.params.forEach((p, i) => {
        scope(() => {
          const g = p.grad;
          if (g === null) return;
          let m = this.moments[i];
          if (m === undefined) {
            m = { expAvg: keep(zerosLike(p)), expAvgSq: keep(zerosLike(p)) };
            this.moments[i] = m;
          }
          const t = ++this.steps[i];
          if (this.weightDecay !== 0) p.mul_(1 - this.lr * this.weightDecay);
          m.expAvg.lerp_(g, 1 - this.beta1);
          m.expAvgSq.mul_(this.beta2).addcmul_(g, g, 1 - this.beta2);
          const biasCorrection1 = 1 - this.beta1 ** t;
          const biasCorrection2 = 1 - this.beta2 ** t;
          const denom = m.expAvgSq.sqrt().div_(Math.sqrt(biasCorrection2)).add_(this.eps);
          p.addcdiv_(m.expAvg, denom, -this.lr / biasCorrection1);
        });
      });
    });
  }

  /** Drops every parameter's gradient (set_to_none). */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  state(): OptimizerState {
    const buffers: Record<string, StateBuffer> = {};
    this.moments.forEach((m, i) => {
      if (m === undefined) return;
      buffers[`${i}.exp_avg`] = toStateBuffer(m.expAvg);
      buffers[`${i}.exp_avg_sq`] = toStateBuffer(m.expAvgSq);
    });
    return {
      kind: "adamw",
      hyper: {
        lr: this.lr,
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        weightDecay: this.weightDecay,
      },
      steps: [...this.steps],
      buffers,
    };
  }

  loadState(state: OptimizerState): void {
    if (state.kind !== "adamw") throw new Error(`AdamW.loadState: state is for "${state.kind}"`);
    if (state.steps.length !== this.params.length) {
      throw new Error(
        `AdamW.loadState: state has ${state.steps.length} parameters, the optimizer ${this.params.length}`,
      );
    }
    const loaded = this.params.map((p, i): Moments | undefined => {
      const a = state.buffers[`${i}.exp_avg`];
      const b = state.buffers[`${i}.exp_avg_sq`];
      if (a === undefined && b === undefined) return undefined;
      if (a === undefined || b === undefined)
        throw new Error(`AdamW.loadState: parameter ${i} has only one of exp_avg / exp_avg_sq`);
      return {
        expAvg: fromStateBuffer(`${i}.exp_avg`, a, p),
        expAvgSq: fromStateBuffer(`${i}.exp_avg_sq`, b, p),
      };
    });
    this.dispose();
    loaded.forEach((m, i) => {
      this.moments[i] = m;
      this.steps[i] = state.steps[i] ?? 0;
    });
  }

  /** Frees the moment buffers (the parameters stay the caller's). */
  dispose(): void {
    this.moments.forEach((m, i) => {
      m?.expAvg.dispose();
      m?.expAvgSq.dispose();
      this.moments[i] = undefined;
      this.steps[i] = 0;
    });
  }
}
