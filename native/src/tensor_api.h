#pragma once
#include <napi.h>

namespace wordle {
Napi::Value FromData(const Napi::CallbackInfo& info);
Napi::Value ToData(const Napi::CallbackInfo& info);
Napi::Value FromFile(const Napi::CallbackInfo& info);
Napi::Value Release(const Napi::CallbackInfo& info);
Napi::Value ReleaseMany(const Napi::CallbackInfo& info);
Napi::Value Share(const Napi::CallbackInfo& info);
Napi::Value LiveCount(const Napi::CallbackInfo& info);
Napi::Value Meta(const Napi::CallbackInfo& info);
Napi::Value DeviceOf(const Napi::CallbackInfo& info);
Napi::Value Item(const Napi::CallbackInfo& info);
Napi::Value Describe(const Napi::CallbackInfo& info);
Napi::Value Strides(const Napi::CallbackInfo& info);
Napi::Value Version(const Napi::CallbackInfo& info);
Napi::Value DtypeTable(Napi::Env env);
}  // namespace wordle
