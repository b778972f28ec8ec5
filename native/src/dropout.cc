// Dropout with a counter-based random generator (Philox 4x32-10, the generator CUDA's dropout uses).
//
// libtorch's CPU dropout draws one Bernoulli number per element from the serial Mersenne Twister:
// about 15 ns an element, and LoRA's float32 dropout on Qwen2.5-0.5B's [956, 4864] MLP input took
// 75 ms, a quarter of a GRPO training pass. Philox computes element i's number from (key, i) alone,
// so the mask is generated in parallel, vectorisable chunks and can be regenerated instead of
// stored: the op draws one 64-bit key from the device's default generator (so manual_seed and
// saving/restoring the generator's state replay the same masks, as gradient checkpointing needs)
// and the backward pass rebuilds the mask from the key.
//
//   y = x * keep / (1 - p),   keep_i = (uniform_i >= p),   uniform_i = philox(key, i) / 2^32
//
// Same distribution as torch.nn.functional.dropout; not the same draws. CPU only (callers use
// at::dropout elsewhere).
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

struct Philox {
  static constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;

  // The four 32-bit outputs for counter (c0, c1, 0, 0) under key (k0, k1).
  static void block(uint32_t c0, uint32_t c1, uint32_t k0, uint32_t k1, uint32_t out[4]) {
    uint32_t x0 = c0, x1 = c1, x2 = 0, x3 = 0;
    for (int round = 0; round < 10; round++) {
      const uint64_t p0 = static_cast<uint64_t>(M0) * x0;
      const uint64_t p1 = static_cast<uint64_t>(M1) * x2;
      const uint32_t y0 = static_cast<uint32_t>(p1 >> 32) ^ x1 ^ k0;
      const uint32_t y2 = static_cast<uint32_t>(p0 >> 32) ^ x3 ^ k1;
      x0 = y0;
      x1 = static_cast<uint32_t>(p1);
      x2 = y2;
      x3 = static_cast<uint32_t>(p0);
      k0 += W0;
      k1 += W1;
    }
    out[0] = x0;
    out[1] = x1;
    out[2] = x2;
    out[3] = x3;
  }
};

// out = in * keep * scale over `n` contiguous elements; element i keeps when its number >= threshold.
template <typename T>
void maskedScale(const T* in, T* out, int64_t n, uint64_t key, uint32_t threshold, float scale) {
  const auto k0 = static_cast<uint32_t>(key);
  const auto k1 = static_cast<uint32_t>(key >> 32);
  at::parallel_for(0, (n + 3) / 4, 2048, [&](int64_t begin, int64_t end) {
    uint32_t r[4];
    for (int64_t block = begin; block < end; block++) {
      Philox::block(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), k0, k1, r);
      const int64_t first = block * 4;
      const int64_t last = std::min<int64_t>(first + 4, n);
      for (int64_t i = first; i < last; i++) {
        const bool keep = r[i - first] >= threshold;
        out[i] = keep ? static_cast<T>(static_cast<float>(in[i]) * scale) : static_cast<T>(0);
      }
    }
  });
}

at::Tensor applyMask(const at::Tensor& x, uint64_t key, double p) {
  const auto in = x.contiguous();
  auto out = at::empty_like(in);
  // keep with probability 1 - p: the number (uniform over 2^32 values) must reach p * 2^32.
  const auto threshold = static_cast<uint32_t>(std::min(p * 4294967296.0, 4294967295.0));
  const auto scale = static_cast<float>(1.0 / (1.0 - p));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, in.scalar_type(), "philox_dropout", [&] {
    maskedScale<scalar_t>(in.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), in.numel(), key, threshold, scale);
  });
  return out;
}

uint64_t drawKey() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
}

class PhiloxDropout : public torch::autograd::Function<PhiloxDropout> {
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

// philoxDropout(x, p) -> id: training-mode dropout of a CPU float tensor, differentiable.
Napi::Value PhiloxDropoutOp(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const auto& x = tensors().get(toId(info[0], "philoxDropout"));
  const double p = info[1].As<Napi::Number>().DoubleValue();
  if (!(p >= 0 && p < 1)) throw ArgError("philoxDropout: p must be in [0, 1)");
  if (!x.device().is_cpu()) throw ArgError("philoxDropout: the tensor must be on the CPU");
  if (!at::isFloatingType(x.scalar_type())) throw ArgError("philoxDropout: the tensor must be floating point");
  at::Tensor out = p == 0 ? x : PhiloxDropout::apply(x, p);
  return Napi::Number::New(info.Env(), tensors().put(std::move(out)));
  WORDLE_CATCH("philoxDropout")
}

}  // namespace wordle
