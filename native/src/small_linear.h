#pragma once
#include <ATen/ATen.h>
#include <napi.h>

namespace wordle {
// Whether the few-row bf16 kernel serves x @ w^T + bias (see small_linear.cc).
bool smallLinearApplies(const at::Tensor& x, const at::Tensor& w, const at::Tensor* bias);
at::Tensor smallLinear(const at::Tensor& x, const at::Tensor& w, const at::Tensor* bias);
Napi::Value SmallLinearOp(const Napi::CallbackInfo& info);
Napi::Value LoraSmallLinearOp(const Napi::CallbackInfo& info);
}  // namespace wordle
