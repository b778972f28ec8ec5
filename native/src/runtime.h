#pragma once
#include <napi.h>

namespace wordle {
Napi::Value ManualSeed(const Napi::CallbackInfo& info);
Napi::Value GetRngState(const Napi::CallbackInfo& info);
Napi::Value SetRngState(const Napi::CallbackInfo& info);
Napi::Value SetNumThreads(const Napi::CallbackInfo& info);
Napi::Value GetNumThreads(const Napi::CallbackInfo& info);
Napi::Value GetBlasNumThreads(const Napi::CallbackInfo& info);
Napi::Value GetBlasCoreName(const Napi::CallbackInfo& info);
void chooseBlasKernels();
Napi::Value CudaAvailable(const Napi::CallbackInfo& info);
Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info);
Napi::Value CudaSynchronize(const Napi::CallbackInfo& info);
Napi::Value CudaMemoryStats(const Napi::CallbackInfo& info);
Napi::Value CudaEmptyCache(const Napi::CallbackInfo& info);
Napi::Value MpsAvailable(const Napi::CallbackInfo& info);
Napi::Value MpsSynchronize(const Napi::CallbackInfo& info);
Napi::Value BuildInfo(const Napi::CallbackInfo& info);
}  // namespace wordle
