#include "fused_kernels.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "errors.h"

namespace wordle {
namespace {
std::atomic<bool> enabled{[] {
  const char* env = std::getenv("WORDLE_FUSED_KERNELS");
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

bool fusedKernelsEnabled() { return enabled.load(std::memory_order_relaxed); }

Napi::Value SetFusedKernels(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const bool previous = enabled.exchange(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), previous);
  WORDLE_CATCH("setFusedKernels")
}

Napi::Value FusedKernelSupport(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  auto out = Napi::Object::New(info.Env());
  out.Set("linear", Napi::Boolean::New(info.Env(), fusedKernelsEnabled() && cpuHasBf16Dot()));
  out.Set("attention", Napi::Boolean::New(info.Env(), fusedKernelsEnabled() && cpuHasAvx512()));
  out.Set("loraEpilogue", Napi::Boolean::New(info.Env(), fusedKernelsEnabled() && cpuHasAvx512()));
  return out;
  WORDLE_CATCH("fusedKernelSupport")
}
}  // namespace wordle
