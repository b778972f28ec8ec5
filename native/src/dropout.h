#pragma once
#include <napi.h>

namespace wordle {
Napi::Value PhiloxDropoutOp(const Napi::CallbackInfo& info);
}  // namespace wordle
