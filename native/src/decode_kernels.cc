#include "decode_kernels.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "errors.h"

namespace wordle {
namespace {
std::atomic<bool> enabled{[] {
  const char* env = std::getenv("WORDLE_DECODE_KERNELS");
  return env == nullptr || std::strcmp(env, "0") != 0;
}()};
}  // namespace

bool cpuHasBf16Dot() {
#if defined(__x86_64__)
  static const bool has = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  return has;
#else
  return false;
#endif
}

bool cpuHasAvx512() {
#if defined(__x86_64__)
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  return has;
#else
  return false;
#endif
}

bool decodeKernelsEnabled() { return enabled.load(std::memory_order_relaxed); }

Napi::Value SetDecodeKernels(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const bool previous = enabled.exchange(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), previous);
  WORDLE_CATCH("setDecodeKernels")
}

Napi::Value DecodeKernelSupport(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  auto out = Napi::Object::New(info.Env());
  out.Set("linear", Napi::Boolean::New(info.Env(), decodeKernelsEnabled() && cpuHasBf16Dot()));
  out.Set("attention", Napi::Boolean::New(info.Env(), decodeKernelsEnabled() && cpuHasAvx512()));
  return out;
  WORDLE_CATCH("decodeKernelSupport")
}
}  // namespace wordle
