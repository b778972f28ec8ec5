#pragma once
#include <napi.h>

namespace wordle {
Napi::Value CounterDropoutOp(const Napi::CallbackInfo& info);
}  // namespace wordle
