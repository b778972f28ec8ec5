// PEFT's LoRA sum for a bf16 base layer in one pass, with autograd: the training pass's
//
//   out = bf16( f32(base) + scale * down B^T )      base [T, out] bf16, down = dropout(f32(x)) A^T [T, r]
//
// As operators this is a cast of base to float32, an addmm over [T, out] float32 and a cast back:
// 20 bytes of memory traffic per output element, on every projection, twice per step with
// gradient checkpointing. Here each output row is one pass: the r-term dot products run in
// registers against B^T (L2-resident), base is read once as bf16 and the output written once as
// bf16 (4 bytes an element). Sums are float32 with the same terms (another order), rounded to
// bf16 once, as the operators do.
//
// Backward: grad_base = grad (the operators' bf16 -> float32 -> bf16 round trip is exact),
// grad_down = scale * f32(grad) B, grad_B = scale * f32(grad)^T down, as addmm's backward.
//
// CPU with AVX-512 only (fused_kernels.h); elsewhere loraEpilogue returns -1 and the operators run.
#pragma GCC optimize("O3")
#include "lora_epilogue.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "convert.h"
#include "errors.h"
#include "fused_kernels.h"
#include "simd_bf16.h"
#include "tensor_table.h"


namespace wordle {
namespace {

#if defined(__x86_64__)
// Rows [begin, end) of out = bf16(f32(base) + scale * down B^T), with bt = B^T [r, N] contiguous.
WORDLE_AVX512_TARGET void epilogueRows(const uint16_t* base, int64_t baseStride, const float* down, int64_t downStride,
                                       const float* bt, int64_t r, float scale, uint16_t* out, int64_t N,
                                       int64_t begin, int64_t end) {
  const __m512 s = _mm512_set1_ps(scale);
  for (int64_t t = begin; t < end; t++) {
    const uint16_t* baseRow = base + t * baseStride;
    const float* downRow = down + t * downStride;
    uint16_t* outRow = out + t * N;
    for (int64_t n = 0; n < N; n += 16) {
      const __mmask16 mask = N - n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (N - n)) - 1);
      __m512 acc = _mm512_setzero_ps();
      for (int64_t j = 0; j < r; j++)
        acc = _mm512_fmadd_ps(_mm512_set1_ps(downRow[j]), _mm512_maskz_loadu_ps(mask, bt + j * N + n), acc);
      const __m512 b = bf16ToFloat(_mm256_maskz_loadu_epi16(mask, baseRow + n));
      _mm256_mask_storeu_epi16(outRow + n, mask, roundToBf16(_mm512_fmadd_ps(s, acc, b)));
    }
  }
}
#else
void epilogueRows(const uint16_t*, int64_t, const float*, int64_t, const float*, int64_t, float, uint16_t*, int64_t,
                  int64_t, int64_t) {}
#endif

at::Tensor epilogue(const at::Tensor& base, const at::Tensor& downIn, const at::Tensor& b, double scale) {
  const auto down = downIn.contiguous();
  const auto bt = b.t().contiguous();  // [r, N]
  const int64_t T = base.size(0), N = base.size(1), r = b.size(1);
  auto out = at::empty({T, N}, base.options());
  const auto* basePtr = reinterpret_cast<const uint16_t*>(base.data_ptr<at::BFloat16>());
  auto* outPtr = reinterpret_cast<uint16_t*>(out.data_ptr<at::BFloat16>());
  const float* downPtr = down.data_ptr<float>();
  const float* btPtr = bt.data_ptr<float>();
  const int64_t baseStride = base.stride(0);
  const float s = static_cast<float>(scale);
  at::parallel_for(0, T, 16, [&](int64_t begin, int64_t end) {
    epilogueRows(basePtr, baseStride, downPtr, r, btPtr, r, s, outPtr, N, begin, end);
  });
  return out;
}

class LoraEpilogue : public torch::autograd::Function<LoraEpilogue> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& base, const at::Tensor& down,
                            const at::Tensor& b, double scale) {
    ctx->save_for_backward({down, b});
    ctx->saved_data["scale"] = scale;
    return epilogue(base, down, b, scale);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& down = saved[0];
    const auto& b = saved[1];
    const double scale = ctx->saved_data["scale"].toDouble();
    const auto& grad = grads[0];
    const auto grad32 = grad.to(at::kFloat);
    return {grad, grad32.mm(b).mul(scale), grad32.t().mm(down).mul(scale), at::Tensor()};
  }
};

bool applies(const at::Tensor& base, const at::Tensor& down, const at::Tensor& b) {
  if (!fusedKernelsEnabled() || !cpuHasAvx512()) return false;
  if (!base.device().is_cpu() || !down.device().is_cpu() || !b.device().is_cpu()) return false;
  if (base.scalar_type() != at::kBFloat16 || down.scalar_type() != at::kFloat || b.scalar_type() != at::kFloat)
    return false;
  if (base.dim() != 2 || down.dim() != 2 || b.dim() != 2 || base.stride(1) != 1) return false;
  return down.size(0) == base.size(0) && b.size(0) == base.size(1) && down.size(1) == b.size(1) && b.size(1) > 0;
}

}  // namespace

// loraEpilogue(base, down, b, scale) -> id, or -1 where the kernel does not apply: bf16(f32(base) +
// scale * down b^T), differentiable in all three tensors. base [T, N] bf16 (rows may be strided, as
// a split of a fused projection's output), down [T, r] float32, b [N, r] float32.
Napi::Value LoraEpilogueOp(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const auto& base = tensors().get(toId(info[0], "loraEpilogue"));
  const auto& down = tensors().get(toId(info[1], "loraEpilogue"));
  const auto& b = tensors().get(toId(info[2], "loraEpilogue"));
  const double scale = info[3].As<Napi::Number>().DoubleValue();
  if (!applies(base, down, b)) return Napi::Number::New(info.Env(), -1);
  RECORD_FUNCTION("wordle::lora_epilogue", std::vector<c10::IValue>());
  return Napi::Number::New(info.Env(), tensors().put(LoraEpilogue::apply(base, down, b, scale)));
  WORDLE_CATCH("loraEpilogue")
}

}  // namespace wordle
