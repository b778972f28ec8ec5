/**
 * The SwiGLU feed-forward block of Qwen2/Llama: down(silu(gate(x)) * up(x)).
 */
import type { Tensor } from "../engine/tensor.js";
import { type LayerLora, loraLinear } from "./lora.js";
import type { DecoderLayerWeights } from "./weights.js";

export function swiGluMlp(
  x: Tensor,
  w: DecoderLayerWeights,
  lora: LayerLora | null,
  training: boolean,
): Tensor {
  const gate = loraLinear(x, w.gateProj, lora?.gate_proj, training);
  const up = loraLinear(x, w.upProj, lora?.up_proj, training);
  return loraLinear(gate.silu().mul(up), w.downProj, lora?.down_proj, training);
}
