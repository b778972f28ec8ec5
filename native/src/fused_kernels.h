// The engine's own fused CPU kernels for bf16 (small_linear.cc and decode_attention.cc for a
// decode step, lora_epilogue.cc for the training pass): what the CPU supports, and the switch
// that turns them off (WORDLE_FUSED_KERNELS=0 or setFusedKernels(false): the operator path then
// runs everywhere, for comparisons and tests).
#pragma once
#include <napi.h>

namespace wordle {
// AVX-512 BF16 dot products (the projection kernel).
bool cpuHasBf16Dot();
// AVX-512 F/BW/VL (the attention kernel).
bool cpuHasAvx512();
bool fusedKernelsEnabled();
// setFusedKernels(on) -> the previous setting.
Napi::Value SetFusedKernels(const Napi::CallbackInfo& info);
// fusedKernelSupport() -> { linear, attention, loraEpilogue }: which kernels this CPU runs (and the switch allows).
Napi::Value FusedKernelSupport(const Napi::CallbackInfo& info);
}  // namespace wordle
