// y = x W^T + b for bfloat16 with a few rows of x: the decode step's projections and LM head.
//
// With 1-8 rows the product is a matrix-vector product bound by reading W once (1 GB a token for
// Qwen2.5-0.5B in bf16), so the figure of merit is memory bandwidth. On a 2-vCPU Emerald Rapids VM
// oneDNN's bf16 GEMM reached about 10 GB/s there while the machine streams about 14: it is tuned
// for larger products. This kernel streams four rows of W at a time through AVX-512 BF16 dot
// products (vdpbf16ps: pairs of bf16 products accumulated in float32), against every row of x at
// once, so W is read exactly once; threads split W's rows.
//
// Numerics are a float32-accumulated dot product rounded once to bf16 (round to nearest even),
// bias added in float32 before that rounding: what F.linear computes in bf16, in another
// summation order (so the last bit of an output can differ from oneDNN's).
//
// Used only where it applies and wins: CPU, bf16 x/W/b, W contiguous [out, in], at most 8 rows,
// no autograd graph needed, a CPU with AVX-512 BF16. Otherwise smallLinear returns -1 and the
// caller runs aten::linear.
#pragma GCC optimize("O3")
#include "small_linear.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include "convert.h"
#include "fused_kernels.h"
#include "simd_bf16.h"
#include "errors.h"
#include "tensor_table.h"

#include <vector>


namespace wordle {
namespace {

constexpr int64_t kMaxRows = 8;
// Software prefetch distance along a row of W: the hardware prefetcher stops at page ends and
// the rows are streamed four at a time.
constexpr int64_t kPrefetchBytes = 2048;

// The LoRA update folded into the output (loraSmallLinear): PEFT's
//   y = bf16( f32(bf16(x W^T + b)) + scale * (f32(x) A^T) B^T )
// with `down` = f32(x) A^T already computed ([rows, parts * r]) and B the parts' B matrices
// stacked ([N, r]); output row n belongs to the part whose range [partStart[p], partStart[p+1])
// holds it and uses that part's r columns of `down`.
struct LoraEpilogue {
  const float* down;
  int64_t downStride;
  const float* b;
  int64_t rank;
  const int64_t* partStart;
  int parts;
  float scale;
};

#if defined(__x86_64__)
// Output rows [begin, end) (R at a time) for all M rows of x: W is read once. K may be any
// length: the last chunk of 32 is loaded under a mask (zeros contribute nothing).
template <int M, int R>
WORDLE_BF16_TARGET void dotRows(const uint16_t* x, const uint16_t* w, const uint16_t* bias, uint16_t* y,
                                int64_t K, int64_t N, int64_t begin, int64_t end, const LoraEpilogue* lora) {
  const int64_t full = K / 32 * 32;
  const __mmask32 tailMask = static_cast<__mmask32>((1ull << (K - full)) - 1);
  int64_t n = begin;
  for (; n + R <= end; n += R) {
    __m512 acc[M][R];
    for (int m = 0; m < M; m++)
      for (int r = 0; r < R; r++) acc[m][r] = _mm512_setzero_ps();
    const uint16_t* rows = w + n * K;
    for (int64_t k = 0; k < K; k += 32) {
      const __mmask32 mask = k < full ? ~__mmask32(0) : tailMask;
      __m512bh wv[R];
      for (int r = 0; r < R; r++) {
        _mm_prefetch(reinterpret_cast<const char*>(rows + r * K + k) + kPrefetchBytes, _MM_HINT_T0);
        wv[r] = (__m512bh)_mm512_maskz_loadu_epi16(mask, rows + r * K + k);
      }
      for (int m = 0; m < M; m++) {
        const __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(mask, x + m * K + k);
        for (int r = 0; r < R; r++) acc[m][r] = _mm512_dpbf16_ps(acc[m][r], wv[r], xv);
      }
    }
    for (int r = 0; r < R; r++) {
      const int64_t row = n + r;
      const float b = bias ? c10::detail::f32_from_bits(bias[row]) : 0.0f;
      int part = 0;
      if (lora)
        while (part + 1 < lora->parts && row >= lora->partStart[part + 1]) part++;
      for (int m = 0; m < M; m++) {
        float out = static_cast<float>(c10::BFloat16(_mm512_reduce_add_ps(acc[m][r]) + b));
        if (lora)
          out += lora->scale * dotF32(lora->down + m * lora->downStride + part * lora->rank,
                                      lora->b + row * lora->rank, lora->rank);
        y[m * N + row] = c10::BFloat16(out).x;
      }
    }
  }
  // Fewer than R rows left: one at a time.
  if (n < end) dotRows<M, 1>(x, w, bias, y, K, N, n, end, lora);
}

template <int M>
void runRows(const uint16_t* x, const uint16_t* w, const uint16_t* bias, uint16_t* y, int64_t K, int64_t N,
             const LoraEpilogue* lora) {
  constexpr int R = M <= 4 ? 4 : 2;
  // Blocks of 64 rows: enough per task to stream, small enough to balance two or more threads.
  const int64_t blocks = (N + 63) / 64;
  at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    dotRows<M, R>(x, w, bias, y, K, N, b0 * 64, std::min(N, b1 * 64), lora);
  });
}

void smallLinearBf16(const at::Tensor& x, const at::Tensor& w, const at::Tensor* bias, at::Tensor& y,
                     const LoraEpilogue* lora) {
  const auto* xp = reinterpret_cast<const uint16_t*>(x.data_ptr<at::BFloat16>());
  const auto* wp = reinterpret_cast<const uint16_t*>(w.data_ptr<at::BFloat16>());
  const auto* bp = bias ? reinterpret_cast<const uint16_t*>(bias->data_ptr<at::BFloat16>()) : nullptr;
  auto* yp = reinterpret_cast<uint16_t*>(y.data_ptr<at::BFloat16>());
  const int64_t K = w.size(1), N = w.size(0);
  switch (x.size(0)) {
    case 1: return runRows<1>(xp, wp, bp, yp, K, N, lora);
    case 2: return runRows<2>(xp, wp, bp, yp, K, N, lora);
    case 3: return runRows<3>(xp, wp, bp, yp, K, N, lora);
    case 4: return runRows<4>(xp, wp, bp, yp, K, N, lora);
    case 5: return runRows<5>(xp, wp, bp, yp, K, N, lora);
    case 6: return runRows<6>(xp, wp, bp, yp, K, N, lora);
    case 7: return runRows<7>(xp, wp, bp, yp, K, N, lora);
    default: return runRows<8>(xp, wp, bp, yp, K, N, lora);
  }
}
#else
void smallLinearBf16(const at::Tensor&, const at::Tensor&, const at::Tensor*, at::Tensor&, const LoraEpilogue*) {}
#endif

bool needsGraph(const at::Tensor& t) { return at::GradMode::is_enabled() && t.requires_grad(); }

}  // namespace

bool smallLinearApplies(const at::Tensor& x, const at::Tensor& w, const at::Tensor* bias) {
  if (!fusedKernelsEnabled() || !cpuHasBf16Dot()) return false;
  const auto bf16 = at::kBFloat16;
  if (!x.device().is_cpu() || !w.device().is_cpu() || x.scalar_type() != bf16 || w.scalar_type() != bf16)
    return false;
  if (w.dim() != 2 || !w.is_contiguous() || x.dim() < 1 || x.size(-1) != w.size(1) || w.size(1) == 0) return false;
  if (bias && (bias->scalar_type() != bf16 || !bias->device().is_cpu() || bias->dim() != 1 ||
               bias->size(0) != w.size(0) || !bias->is_contiguous()))
    return false;
  if (needsGraph(x) || needsGraph(w) || (bias && needsGraph(*bias))) return false;
  const int64_t rows = x.numel() / w.size(1);
  return rows >= 1 && rows <= kMaxRows;
}

namespace {

// The LoRA epilogue's down-projection: f32(x) A^T for every row of x, in float32 as PEFT computes
// it. A few thousand dot products: one thread.
std::vector<float> downProjection(const at::Tensor& rows, const at::Tensor& a) {
  const int64_t M = rows.size(0), K = rows.size(1), J = a.size(0);
  const auto xf = rows.to(at::kFloat).contiguous();
  std::vector<float> down(M * J);
#if defined(__x86_64__)
  const float* xp = xf.data_ptr<float>();
  const float* ap = a.data_ptr<float>();
  for (int64_t m = 0; m < M; m++)
    for (int64_t j = 0; j < J; j++) down[m * J + j] = dotF32(xp + m * K, ap + j * K, K);
#endif
  return down;
}

// x as [rows, in], contiguous: what the kernel reads.
at::Tensor rowsOf(const at::Tensor& x, const at::Tensor& w) { return x.reshape({-1, w.size(1)}).contiguous(); }

// The kernel over `rows`, shaped back as x [..., out].
at::Tensor run(const at::Tensor& x, const at::Tensor& rows, const at::Tensor& w, const at::Tensor* bias,
               const LoraEpilogue* lora) {
  auto out = at::empty({rows.size(0), w.size(0)}, x.options());
  smallLinearBf16(rows, w, bias, out, lora);
  auto shape = x.sizes().vec();
  shape.back() = w.size(0);
  return out.view(shape);
}

}  // namespace

at::Tensor smallLinear(const at::Tensor& x, const at::Tensor& w, const at::Tensor* bias) {
  RECORD_FUNCTION("wordle::small_linear", std::vector<c10::IValue>());
  return run(x, rowsOf(x, w), w, bias, nullptr);
}

// smallLinear(x, w, bias | null) -> id, or -1 where the kernel does not apply (run aten::linear).
Napi::Value SmallLinearOp(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const auto& x = tensors().get(toId(info[0], "smallLinear"));
  const auto& w = tensors().get(toId(info[1], "smallLinear"));
  const at::Tensor* bias = info[2].IsNull() ? nullptr : &tensors().get(toId(info[2], "smallLinear"));
  if (!smallLinearApplies(x, w, bias)) return Napi::Number::New(info.Env(), -1);
  return Napi::Number::New(info.Env(), tensors().put(smallLinear(x, w, bias)));
  WORDLE_CATCH("smallLinear")
}

// loraSmallLinear(x, w, bias | null, a, b, partSizes, scale) -> id, or -1 where the kernel does not
// apply: the few-row kernel with PEFT's LoRA update folded in (see LoraEpilogue). a: the parts'
// A matrices stacked [parts * r, in] float32; b: their B matrices stacked [out, r] float32;
// partSizes: each part's output rows (q/k/v, gate/up), summing to out.
Napi::Value LoraSmallLinearOp(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const auto& x = tensors().get(toId(info[0], "loraSmallLinear"));
  const auto& w = tensors().get(toId(info[1], "loraSmallLinear"));
  const at::Tensor* bias = info[2].IsNull() ? nullptr : &tensors().get(toId(info[2], "loraSmallLinear"));
  const auto& a = tensors().get(toId(info[3], "loraSmallLinear"));
  const auto& b = tensors().get(toId(info[4], "loraSmallLinear"));
  const auto sizes = toShape(info[5]);
  const float scale = static_cast<float>(info[6].As<Napi::Number>().DoubleValue());
  const auto none = Napi::Number::New(info.Env(), -1);
  if (!smallLinearApplies(x, w, bias) || sizes.empty()) return none;
  std::vector<int64_t> partStart{0};
  for (const auto n : sizes) partStart.push_back(partStart.back() + n);
  const int64_t parts = static_cast<int64_t>(sizes.size());
  const bool shapesFit = a.dim() == 2 && b.dim() == 2 && a.size(1) == w.size(1) && b.size(0) == w.size(0) &&
                         partStart.back() == w.size(0) && a.size(0) == parts * b.size(1);
  const bool layoutFits = a.scalar_type() == at::kFloat && b.scalar_type() == at::kFloat && a.device().is_cpu() &&
                          b.device().is_cpu() && a.is_contiguous() && b.is_contiguous();
  if (!shapesFit || !layoutFits || needsGraph(a) || needsGraph(b)) return none;
  RECORD_FUNCTION("wordle::lora_small_linear", std::vector<c10::IValue>());
  const auto rows = rowsOf(x, w);
  const std::vector<float> down = downProjection(rows, a);
  const LoraEpilogue epilogue{down.data(), a.size(0), b.data_ptr<float>(), b.size(1), partStart.data(),
                              static_cast<int>(parts), scale};
  const auto out = run(x, rows, w, bias, &epilogue);
  return Napi::Number::New(info.Env(), tensors().put(out));
  WORDLE_CATCH("loraSmallLinear")
}

}  // namespace wordle
