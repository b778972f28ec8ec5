#pragma once
#include <napi.h>

namespace wordle {
// One grouped-query attention decode step for bf16 on the CPU (see decode_attention.cc).
Napi::Value DecodeAttentionOp(const Napi::CallbackInfo& info);
}  // namespace wordle
