#pragma once
#include <napi.h>

namespace wordle {
Napi::Value OpProfile(const Napi::CallbackInfo& info);
Napi::Value OpProfileTotals(const Napi::CallbackInfo& info);
}  // namespace wordle
