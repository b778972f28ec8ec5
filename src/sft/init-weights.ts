/**
 * Fresh weights for a Qwen2 model, initialised as transformers' Qwen2PreTrainedModel does:
 * every linear and the embedding ~ N(0, initializer_range = 0.02), biases 0, RMSNorm gains 1.
 * The output projections of each block (o_proj, down_proj) are scaled by 1/sqrt(2 * layers), as
 * GPT-2 does, so the residual stream does not grow with depth at the start of training.
 */
import { keep, noGrad, ones, randn, scope, zeros } from "../engine/index.js";
import type { Tensor } from "../engine/tensor.js";
import type { ModelConfig } from "../model/hf-config.js";
import type { DecoderLayerWeights, LinearWeights, ModelWeights } from "../model/weights.js";

export function initWeights(config: ModelConfig, std = 0.02): ModelWeights {
  return noGrad(() =>
    scope(() => {
      const { hiddenSize: h, intermediateSize: m, headDim, numHiddenLayers: layers } = config;
      const q = config.numAttentionHeads * headDim;
      const kv = config.numKeyValueHeads * headDim;
      const residualStd = std / Math.sqrt(2 * layers);
      const linear = (out: number, inp: number, bias: boolean, s = std): LinearWeights => ({
        weight: randn([out, inp]).mul(s),
        bias: bias ? zeros([out]) : null,
      });
      const embedTokens: Tensor = randn([config.vocabSize, h]).mul(std);
      const layerWeights: DecoderLayerWeights[] = [];
      for (let i = 0; i < layers; i++) {
        layerWeights.push({
          inputLayernorm: ones([h]),
          qProj: linear(q, h, config.qkvBias),
          kProj: linear(kv, h, config.qkvBias),
          vProj: linear(kv, h, config.qkvBias),
          oProj: linear(h, q, config.oProjBias, residualStd),
          postAttentionLayernorm: ones([h]),
          gateProj: linear(m, h, config.mlpBias),
          upProj: linear(m, h, config.mlpBias),
          downProj: linear(h, m, config.mlpBias, residualStd),
        });
      }
      const lmHead = config.tieWordEmbeddings ? embedTokens : randn([config.vocabSize, h]).mul(std);
      return keep({ embedTokens, layers: layerWeights, norm: ones([h]), lmHead });
    }),
  );
}
