/**
 * The SwiGLU feed-forward block of Qwen2/Llama: down(silu(gate(x)) * up(x)).
 */
import type { Tensor } from "../engine/tensor.js";
import { fusedLoraLinears } from "./fused-projections.js";
import { type LayerLora, loraLinear, loraLinears } from "./lora.js";
import type { DecoderLayerWeights } from "./weights.js";

export function swiGluMlp(
  x: Tensor,
  w: DecoderLayerWeights,
  lora: LayerLora | null,
  training: boolean,
): Tensor {
  const loras = [lora?.gate_proj, lora?.up_proj];
  const [gate, up] = (
    w.fused
      ? fusedLoraLinears(x, w.fused.gateUp, loras, training).parts
      : loraLinears(x, [w.gateProj, w.upProj], loras, training)
  ) as [Tensor, Tensor];
  return loraLinear(gate.silu().mul(up), w.downProj, lora?.down_proj, training);
}
