/**
 * The SwiGLU feed-forward block of Qwen2/Llama: down(silu(gate(x)) * up(x)).
 */
import type { Tensor } from "../engine/tensor.js";
import { type LayerLora, loraLinear, loraLinears } from "./lora.js";
import type { DecoderLayerWeights } from "./weights.js";

export function swiGluMlp(
  x: Tensor,
  w: DecoderLayerWeights,
  lora: LayerLora | null,
  training: boolean,
): Tensor {
  const [gate, up] = loraLinears(x, [w.gateProj, w.upProj], [lora?.gate_proj, lora?.up_proj], training) as [
    Tensor,
    Tensor,
  ];
  return loraLinear(gate.silu().mul(up), w.downProj, lora?.down_proj, training);
}
