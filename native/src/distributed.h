#pragma once
#include <napi.h>

namespace wordle {
Napi::Value DistributedBackends(const Napi::CallbackInfo& info);
Napi::Value DistCreate(const Napi::CallbackInfo& info);
Napi::Value DistAllReduce(const Napi::CallbackInfo& info);
Napi::Value DistAllReduceFlat(const Napi::CallbackInfo& info);
Napi::Value DistBroadcast(const Napi::CallbackInfo& info);
Napi::Value DistAllGather(const Napi::CallbackInfo& info);
Napi::Value DistBarrier(const Napi::CallbackInfo& info);
Napi::Value DistStoreSet(const Napi::CallbackInfo& info);
Napi::Value DistStoreGet(const Napi::CallbackInfo& info);
Napi::Value DistStoreCheck(const Napi::CallbackInfo& info);
Napi::Value DistDestroy(const Napi::CallbackInfo& info);
}  // namespace wordle
