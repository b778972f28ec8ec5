// Dropout with counter-based random numbers.
//
// libtorch's CPU dropout draws one Bernoulli number per element from the serial Mersenne Twister:
// about 15 ns an element, and LoRA's float32 dropout on Qwen2.5-0.5B's [956, 4864] MLP input took
// 75 ms, a quarter of a GRPO training pass. Here element i's number is a keyed hash of i alone (the
// counter-based idea of Philox, which CUDA's dropout uses), so the mask is generated in parallel,
// vectorised chunks and can be regenerated instead of stored: the op draws one 64-bit key from the
// CPU's default generator (so manual_seed and saving/restoring the generator's state replay the
// same masks, as gradient checkpointing needs) and the backward pass rebuilds the mask from it.
//
//   y = x * keep / (1 - p),   keep_i = (hash(key, i) / 2^32 >= p)
//
// Same distribution as torch.nn.functional.dropout; not the same draws. CPU only (callers use
// at::dropout elsewhere).
#pragma GCC optimize("O3")
#include "dropout.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <mutex>

#include "convert.h"
#include "errors.h"
#include "tensor_table.h"

namespace wordle {
namespace {

// Element i's random number: two rounds of MurmurHash3's 32-bit finaliser (a bijection with full
// avalanche) over the index, keyed by the 64-bit key. 32-bit integer arithmetic only, so the loop
// vectorises (AVX-512, AVX2 or SSE2 clones below).
inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

inline uint32_t keyedHash(uint64_t i, uint32_t k0, uint32_t k1) {
  const uint32_t lo = static_cast<uint32_t>(i);
  const uint32_t hi = static_cast<uint32_t>(i >> 32);
  return fmix32(fmix32(lo ^ k0) + (hi ^ k1) * 0x9E3779B9u + k1);
}

// out[i] = in[i] * scale where hash(i) >= threshold, else 0, for i in [begin, end).
template <typename T>
__attribute__((target_clones("avx512f", "avx2", "default"))) void maskedScaleRange(
    const T* in, T* out, int64_t begin, int64_t end, uint32_t k0, uint32_t k1, uint32_t threshold, float scale) {
  for (int64_t i = begin; i < end; i++) {
    const bool keep = keyedHash(static_cast<uint64_t>(i), k0, k1) >= threshold;
    out[i] = static_cast<T>(keep ? static_cast<float>(in[i]) * scale : 0.0f);
  }
}

template <typename T>
void maskedScale(const T* in, T* out, int64_t n, uint64_t key, uint32_t threshold, float scale) {
  const auto k0 = static_cast<uint32_t>(key);
  const auto k1 = static_cast<uint32_t>(key >> 32);
  at::parallel_for(0, n, 16384, [&](int64_t begin, int64_t end) {
    maskedScaleRange<T>(in, out, begin, end, k0, k1, threshold, scale);
  });
}

at::Tensor applyMask(const at::Tensor& x, uint64_t key, double p) {
  const auto in = x.contiguous();
  auto out = at::empty_like(in);
  // keep with probability 1 - p: the number (uniform over 2^32 values) must reach p * 2^32.
  const auto threshold = static_cast<uint32_t>(std::min(p * 4294967296.0, 4294967295.0));
  const auto scale = static_cast<float>(1.0 / (1.0 - p));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, in.scalar_type(), "counter_dropout", [&] {
    maskedScale<scalar_t>(in.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), in.numel(), key, threshold, scale);
  });
  return out;
}

uint64_t drawKey() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
}

class CounterDropout : public torch::autograd::Function<CounterDropout> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, double p) {
    const uint64_t key = drawKey();
    ctx->saved_data["key"] = static_cast<int64_t>(key);
    ctx->saved_data["p"] = p;
    return applyMask(x, key, p);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto key = static_cast<uint64_t>(ctx->saved_data["key"].toInt());
    return {applyMask(grads[0], key, ctx->saved_data["p"].toDouble()), at::Tensor()};
  }
};

}  // namespace

// counterDropout(x, p) -> id: training-mode dropout of a CPU float tensor, differentiable.
Napi::Value CounterDropoutOp(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const auto& x = tensors().get(toId(info[0], "counterDropout"));
  const double p = info[1].As<Napi::Number>().DoubleValue();
  if (!(p >= 0 && p < 1)) throw ArgError("counterDropout: p must be in [0, 1)");
  if (!x.device().is_cpu()) throw ArgError("counterDropout: the tensor must be on the CPU");
  if (!at::isFloatingType(x.scalar_type())) throw ArgError("counterDropout: the tensor must be floating point");
  at::Tensor out = p == 0 ? x : CounterDropout::apply(x, p);
  return Napi::Number::New(info.Env(), tensors().put(std::move(out)));
  WORDLE_CATCH("counterDropout")
}

}  // namespace wordle
