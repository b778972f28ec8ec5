#pragma once
#include <napi.h>

namespace wordle {
Napi::Value ResolveOp(const Napi::CallbackInfo& info);
Napi::Value HasOp(const Napi::CallbackInfo& info);
Napi::Value OpSchema(const Napi::CallbackInfo& info);
Napi::Value CallOp(const Napi::CallbackInfo& info);
Napi::Value CallOpVoid(const Napi::CallbackInfo& info);
}  // namespace wordle
