// SGD with momentum, torch.optim.SGD semantics:
//   g <- g + weight_decay * p                              (coupled L2 weight decay)
//   b <- g on the first step, else momentum * b + (1 - dampening) * g
//   g <- g + momentum * b  (nesterov)   or   g <- b
//   p <- p - lr * g
import { keep, noGrad, scope } from "../scope.js";
import type { Tensor } from "../tensor.js";
import {
  checkParams,
  fromStateBuffer,
  type OptimizerState,
  type StateBuffer,
  toStateBuffer,
} from "./state.js";

export interface SGDOptions {
  lr?: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD {
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  private readonly steps: number[];
  private readonly buffers: (Tensor | undefined)[];

  /** Defaults as torch.optim.SGD except lr (torch requires it; here 1e-3). */
  constructor(
    readonly params: readonly Tensor[],
    options: SGDOptions = {},
  ) {
    checkParams(params, "SGD");
    this.lr = options.lr ?? 1e-3;
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    this.nesterov = options.nesterov ?? false;
    for (const [name, value] of Object.entries({
      lr: this.lr,
      momentum: this.momentum,
      weightDecay: this.weightDecay,
    })) {
      if (!(value >= 0)) throw new Error(`SGD: ${name} must be >= 0, got ${value}`);
    }
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error("SGD: nesterov momentum requires momentum > 0 and dampening = 0");
    }
    this.steps = params.map(() => 0);
    this.buffers = params.map(() => undefined);
  }

  step(): void {
    noGrad(() => {
      this.params.forEach((p, i) => {
        scope(() => {
          let g = p.grad;
          if (g === null) return;
          this.steps[i]++;
          if (this.weightDecay !== 0) g = g.add(p, this.weightDecay);
          if (this.momentum !== 0) {
            let buf = this.buffers[i];
            if (buf === undefined) {
              buf = keep(g.clone());
              this.buffers[i] = buf;
            } else {
              buf.mul_(this.momentum).add_(g, 1 - this.dampening);
            }
            g = this.nesterov ? g.add(buf, this.momentum) : buf;
          }
          p.add_(g, -this.lr);
        });
      });
    });
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  state(): OptimizerState {
    const buffers: Record<string, StateBuffer> = {};
    this.buffers.forEach((b, i) => {
      if (b !== undefined) buffers[`${i}.momentum_buffer`] = toStateBuffer(b);
    });
    return {
      kind: "sgd",
      hyper: {
        lr: this.lr,
        momentum: this.momentum,
        dampening: this.dampening,
        weightDecay: this.weightDecay,
        nesterov: this.nesterov,
      },
      steps: [...this.steps],
      buffers,
    };
  }

  loadState(state: OptimizerState): void {
    if (state.kind !== "sgd") throw new Error(`SGD.loadState: state is for "${state.kind}"`);
    if (state.steps.length !== this.params.length) {
      throw new Error(
        `SGD.loadState: state has ${state.steps.length} parameters, the optimizer ${this.params.length}`,
      );
    }
    const loaded = this.params.map((p, i) => {
      const b = state.buffers[`${i}.momentum_buffer`];
      return b === undefined ? undefined : fromStateBuffer(`${i}.momentum_buffer`, b, p);
    });
    this.dispose();
    loaded.forEach((b, i) => {
      this.buffers[i] = b;
      this.steps[i] = state.steps[i] ?? 0;
    });
  }

  dispose(): void {
    this.buffers.forEach((b, i) => {
      b?.dispose();
      this.buffers[i] = undefined;
      this.steps[i] = 0;
    });
  }
}
