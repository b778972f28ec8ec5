// One decode step of grouped-query attention for bfloat16 on the CPU, in one pass:
//
//   q, k = rope(q), rope(k)             (rotate_half convention, per head)
//   cache[:, :, L] = k, v               (written in place into the KV cache's buffers)
//   out = softmax(q K^T * scale + mask) V   over the L + 1 cached positions
//
// The operator path (model/attention.ts) spends about 25 ATen calls a layer on this: views,
// RoPE's four element-wise passes, two cache copies, two batched bf16 matmuls that libtorch 1.13
// runs through a slow generic kernel, the mask, the softmax and casts. Here it is one call.
//
// The roundings follow the operator path: RoPE as bf16(bf16(x cos) + bf16(rotate_half(x) sin)),
// each score rounded to bf16 after the dot product and again after the scale, the softmax in
// float32 over the bf16 scores, the probabilities rounded to bf16, and the output a float32
// accumulation rounded once. What differs is only the summation order (and the exp
// implementation), so results agree with the operator path to within one bf16 rounding.
//
// Applies on CPUs with AVX-512 (the bf16 fast path; attention.ts uses the operators elsewhere).
#pragma GCC optimize("O3")
#include "decode_attention.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "convert.h"
#include "fused_kernels.h"
#include "errors.h"
#include "simd_bf16.h"
#include "tensor_table.h"

namespace wordle {
namespace {

inline float bf(uint16_t bits) { return c10::detail::f32_from_bits(bits); }
inline uint16_t toBf(float v) { return c10::BFloat16(v).x; }
inline float roundBf(float v) { return static_cast<float>(c10::BFloat16(v)); }

// rope(x) for one head of D values: bf16(bf16(x * cos) + bf16(rotate_half(x) * sin)), written as
// bf16 bits to out and as floats to outF (either may be null).
void ropeHead(const uint16_t* x, const uint16_t* cos, const uint16_t* sin, int64_t D, uint16_t* out, float* outF) {
  const int64_t half = D / 2;
  for (int64_t i = 0; i < D; i++) {
    const float rotated = i < half ? -bf(x[i + half]) : bf(x[i - half]);
    const float v = roundBf(roundBf(bf(x[i]) * bf(cos[i])) + roundBf(rotated * bf(sin[i])));
    if (out) out[i] = toBf(v);
    if (outF) outF[i] = v;
  }
}

#if defined(__x86_64__)
// q . k for one cached position (D a multiple of 16).
WORDLE_AVX512_TARGET inline float dotQK(const float* q, const uint16_t* k, int64_t D) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < D; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), loadBf16x16(k + i), acc);
  return _mm512_reduce_add_ps(acc);
}

// acc += p * v for one cached position (D a multiple of 16).
WORDLE_AVX512_TARGET inline void addPV(float* acc, float p, const uint16_t* v, int64_t D) {
  const __m512 pv = _mm512_set1_ps(p);
  for (int64_t i = 0; i < D; i += 16)
    _mm512_storeu_ps(acc + i, _mm512_fmadd_ps(pv, loadBf16x16(v + i), _mm512_loadu_ps(acc + i)));
}

// One query head against its KV head's T cached positions. `visible` (null: all) hides the
// positions where it is 0; `scores` [T] and `acc` [D] are the caller's scratch space.
WORDLE_AVX512_TARGET void attendHead(const float* q, const uint16_t* keys, const uint16_t* values, int64_t T,
                                     int64_t D, int64_t rowStride, const uint8_t* visible, float scale,
                                     float* scores, float* acc, uint16_t* out) {
  float top = -std::numeric_limits<float>::infinity();
  const float lowest = -3.3895313892515355e38f;  // torch.finfo(bfloat16).min, as masked_fill writes it
  for (int64_t t = 0; t < T; t++) {
    float s = roundBf(roundBf(dotQK(q, keys + t * rowStride, D)) * scale);
    if (visible && !visible[t]) s = lowest;
    scores[t] = s;
    top = std::max(top, s);
  }
  float total = 0;
  for (int64_t t = 0; t < T; t++) {
    scores[t] = std::exp(scores[t] - top);
    total += scores[t];
  }
  std::fill(acc, acc + D, 0.0f);
  for (int64_t t = 0; t < T; t++) {
    const float p = roundBf(scores[t] / total);
    if (p != 0.0f) addPV(acc, p, values + t * rowStride, D);
  }
  for (int64_t i = 0; i < D; i++) out[i] = toBf(acc[i]);
}

#else
void attendHead(const float*, const uint16_t*, const uint16_t*, int64_t, int64_t, int64_t, const uint8_t*, float,
                float*, float*, uint16_t*) {}
#endif

const uint16_t* bits(const at::Tensor& t) { return reinterpret_cast<const uint16_t*>(t.data_ptr<at::BFloat16>()); }
uint16_t* mutableBits(at::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>()); }

}  // namespace

// decodeAttention(qkv, cos, sin, keys, values, position, visible | null, heads, kvHeads, scale) -> id,
// or -1 where the kernel does not apply (the caller runs the operator path, which appends to the
// cache itself; nothing is written here in that case).
//   qkv     [B, 1, (heads + 2 kvHeads) * D] bf16: the fused projection's output, q then k then v heads
//   cos/sin [B, 1, 1, D] bf16: the RoPE angles of the new position
//   keys/values [B, kvHeads, capacity, D] bf16: the layer's cache buffers; position L < capacity
//   visible [B or 1, ..., L + 1] bool, true = may attend (the model's attention mask), or null
// Returns the attention output [B, 1, heads * D] bf16 (before o_proj).
Napi::Value DecodeAttentionOp(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const char* name = "decodeAttention";
  const auto& qkvIn = tensors().get(toId(info[0], name));
  const auto& cosIn = tensors().get(toId(info[1], name));
  const auto& sinIn = tensors().get(toId(info[2], name));
  auto keys = tensors().get(toId(info[3], name));
  auto values = tensors().get(toId(info[4], name));
  const int64_t L = info[5].As<Napi::Number>().Int64Value();
  const at::Tensor* maskIn = info[6].IsNull() ? nullptr : &tensors().get(toId(info[6], name));
  const int64_t heads = info[7].As<Napi::Number>().Int64Value();
  const int64_t kvHeads = info[8].As<Napi::Number>().Int64Value();
  const float scale = static_cast<float>(info[9].As<Napi::Number>().DoubleValue());
  const auto none = Napi::Number::New(info.Env(), -1);

  const auto bf16 = at::kBFloat16;
  const bool cpu = qkvIn.device().is_cpu() && cosIn.device().is_cpu() && sinIn.device().is_cpu() &&
                   keys.device().is_cpu() && values.device().is_cpu();
  if (!fusedKernelsEnabled() || !cpuHasAvx512() || !cpu || at::GradMode::is_enabled() || qkvIn.scalar_type() != bf16 ||
      cosIn.scalar_type() != bf16 || sinIn.scalar_type() != bf16 || keys.scalar_type() != bf16 ||
      values.scalar_type() != bf16 || !keys.is_contiguous() || !values.is_contiguous() || keys.dim() != 4 ||
      values.sizes() != keys.sizes() || qkvIn.dim() != 3 || qkvIn.size(1) != 1 || heads < 1 || kvHeads < 1 ||
      heads % kvHeads != 0)
    return none;
  const int64_t B = qkvIn.size(0), D = keys.size(3), capacity = keys.size(2), T = L + 1;
  if (D % 16 != 0 || keys.size(0) != B || keys.size(1) != kvHeads || qkvIn.size(2) != (heads + 2 * kvHeads) * D ||
      L < 0 || L >= capacity || cosIn.numel() != B * D || sinIn.numel() != B * D)
    return none;
  if (maskIn && (maskIn->scalar_type() != at::kBool || maskIn->size(-1) != T || !maskIn->device().is_cpu() ||
                 (maskIn->numel() != T && maskIn->numel() != B * T)))
    return none;

  RECORD_FUNCTION("wordle::decode_attention", std::vector<c10::IValue>());
  const auto qkv = qkvIn.contiguous();
  const auto cos = cosIn.contiguous();
  const auto sin = sinIn.contiguous();
  const auto mask = maskIn ? maskIn->contiguous() : at::Tensor();
  auto out = at::empty({B, 1, heads * D}, qkvIn.options());
  const uint16_t* qkvBits = bits(qkv);
  uint16_t* keyBits = mutableBits(keys);
  uint16_t* valueBits = mutableBits(values);
  uint16_t* outBits = mutableBits(out);
  const int64_t width = (heads + 2 * kvHeads) * D;
  const int64_t headStride = capacity * D;  // between KV heads of one row
  const int64_t group = heads / kvHeads;

  // The new position's rotated keys and its values go into the cache first.
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < kvHeads; h++) {
      const uint16_t* row = qkvBits + b * width;
      const int64_t slot = ((b * kvHeads + h) * capacity + L) * D;
      ropeHead(row + (heads + h) * D, bits(cos) + b * D, bits(sin) + b * D, D, keyBits + slot, nullptr);
      std::copy(row + (heads + kvHeads + h) * D, row + (heads + kvHeads + h + 1) * D, valueBits + slot);
    }
  // Then every query head attends to its KV head's T positions.
  at::parallel_for(0, B * heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> q(D), scores(T), acc(D);
    for (int64_t i = begin; i < end; i++) {
      const int64_t b = i / heads, h = i % heads;
      ropeHead(qkvBits + b * width + h * D, bits(cos) + b * D, bits(sin) + b * D, D, nullptr, q.data());
      const int64_t base = (b * kvHeads + h / group) * headStride;
      const uint8_t* visible =
          maskIn ? reinterpret_cast<const uint8_t*>(mask.data_ptr<bool>()) + (mask.numel() == T ? 0 : b * T) : nullptr;
      attendHead(q.data(), keyBits + base, valueBits + base, T, D, D, visible, scale, scores.data(), acc.data(),
                 outBits + (b * heads + h) * D);
    }
  });
  return Napi::Number::New(info.Env(), tensors().put(std::move(out)));
  WORDLE_CATCH("decodeAttention")
}

}  // namespace wordle
