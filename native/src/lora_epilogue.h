#pragma once
#include <napi.h>

namespace wordle {
// PEFT's LoRA sum for a bf16 base output in one pass, with autograd (see lora_epilogue.cc).
Napi::Value LoraEpilogueOp(const Napi::CallbackInfo& info);
}  // namespace wordle
