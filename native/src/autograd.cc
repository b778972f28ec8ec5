// Autograd: requires_grad flags, .grad, backward, torch.autograd.grad and the global grad mode.
#include "autograd.h"

#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>

#include "convert.h"
#include "errors.h"
#include "tensor_table.h"

namespace wordle {
namespace {

// Accepts a handle or an array of handles (null entries allowed where `allowNull`).
std::vector<at::Tensor> toTensorVector(const Napi::Value& v, const char* what, bool allowNull) {
  std::vector<at::Tensor> out;
  auto one = [&](const Napi::Value& e) {
    if (allowNull && (e.IsNull() || e.IsUndefined())) {
      out.emplace_back();
    } else {
      out.push_back(tensors().get(toId(e, what)));
    }
  };
  if (v.IsArray()) {
    const auto arr = v.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) one(arr.Get(i));
  } else {
    one(v);
  }
  return out;
}

std::string describeAll(const std::vector<at::Tensor>& ts) {
  std::string s;
  for (size_t i = 0; i < ts.size(); i++) s += (i ? ", " : "") + describeTensor(ts[i]);
  return s;
}

}  // namespace

// setRequiresGrad(id, flag)
Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  at::Tensor t = tensors().get(toId(info[0], "setRequiresGrad"));
  t.requires_grad_(info[1].ToBoolean().Value());
  return info.Env().Undefined();
  WORDLE_CATCH("setRequiresGrad")
}

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  return Napi::Boolean::New(info.Env(), tensors().get(toId(info[0], "requiresGrad")).requires_grad());
  WORDLE_CATCH("requiresGrad")
}

Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  return Napi::Boolean::New(info.Env(), tensors().get(toId(info[0], "isLeaf")).is_leaf());
  WORDLE_CATCH("isLeaf")
}

// grad(id) -> handle of the accumulated gradient, or null when there is none.
Napi::Value Grad(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const auto& g = tensors().get(toId(info[0], "grad")).grad();
  if (!g.defined()) return info.Env().Null();
  return Napi::Number::New(info.Env(), tensors().put(g));
  WORDLE_CATCH("grad")
}

// setGrad(id, gradId | null): null drops the gradient (zero_grad(set_to_none=True)).
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  at::Tensor t = tensors().get(toId(info[0], "setGrad"));
  if (info[1].IsNull() || info[1].IsUndefined()) {
    t.mutable_grad() = at::Tensor();
  } else {
    t.mutable_grad() = tensors().get(toId(info[1], "setGrad"));
  }
  return info.Env().Undefined();
  WORDLE_CATCH("setGrad")
}

// backward(outputs: id | id[], gradOutputs: id | (id|null)[] | null, retainGraph, createGraph)
// Accumulates into the .grad of the leaves, like torch.autograd.backward.
Napi::Value Backward(const Napi::CallbackInfo& info) {
  std::vector<at::Tensor> outputs;
  WORDLE_TRY
  outputs = toTensorVector(info[0], "backward", false);
  std::vector<at::Tensor> grads;
  if (!info[1].IsNull() && !info[1].IsUndefined()) grads = toTensorVector(info[1], "backward", true);
  const bool retain = info[2].ToBoolean().Value();
  const bool create = info[3].ToBoolean().Value();
  torch::autograd::backward(outputs, grads, retain, create);
  return info.Env().Undefined();
  WORDLE_CATCH("backward(" + describeAll(outputs) + ")")
}

// autogradGrad(outputs, inputs, gradOutputs | null, retainGraph, createGraph, allowUnused)
//   -> (id | null)[]: gradients of outputs w.r.t. inputs, without touching any .grad.
Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  std::vector<at::Tensor> outputs;
  WORDLE_TRY
  outputs = toTensorVector(info[0], "autogradGrad", false);
  const auto inputs = toTensorVector(info[1], "autogradGrad", false);
  std::vector<at::Tensor> grads;
  if (!info[2].IsNull() && !info[2].IsUndefined()) grads = toTensorVector(info[2], "autogradGrad", true);
  const bool retain = info[3].ToBoolean().Value();
  const bool create = info[4].ToBoolean().Value();
  const bool allowUnused = info[5].ToBoolean().Value();
  const auto result = torch::autograd::grad(outputs, inputs, grads, retain, create, allowUnused);
  auto arr = Napi::Array::New(info.Env(), result.size());
  for (size_t i = 0; i < result.size(); i++) {
    arr.Set(static_cast<uint32_t>(i), result[i].defined() ? Napi::Value(Napi::Number::New(info.Env(), tensors().put(result[i]))) : info.Env().Null());
  }
  return arr;
  WORDLE_CATCH("autogradGrad(" + describeAll(outputs) + ")")
}

// setGradEnabled(flag) -> previous flag. Thread-local in libtorch; all calls come from the JS thread.
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  const bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), previous);
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

}  // namespace wordle
