#pragma once
#include <napi.h>

namespace wordle {
Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info);
Napi::Value RequiresGrad(const Napi::CallbackInfo& info);
Napi::Value IsLeaf(const Napi::CallbackInfo& info);
Napi::Value Grad(const Napi::CallbackInfo& info);
Napi::Value SetGrad(const Napi::CallbackInfo& info);
Napi::Value Backward(const Napi::CallbackInfo& info);
Napi::Value AutogradGrad(const Napi::CallbackInfo& info);
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info);
Napi::Value IsGradEnabled(const Napi::CallbackInfo& info);
}  // namespace wordle
