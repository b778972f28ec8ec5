// Small conversions shared by the exported functions: dtype codes, devices, tensor descriptions.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <string>
#include <vector>

#include "errors.h"

namespace wordle {

// Dtypes travel between JavaScript and C++ as at::ScalarType codes (stable across libtorch
// versions); the addon exports the table of names -> codes so TypeScript never hard-codes them.
inline at::ScalarType toScalarType(const Napi::Value& v) {
  if (!v.IsNumber()) throw ArgError("dtype code expected (a number from the addon's dtype table)");
  const int32_t code = v.As<Napi::Number>().Int32Value();
  if (code < 0 || code >= static_cast<int32_t>(at::ScalarType::NumOptions)) throw ArgError("unknown dtype code " + std::to_string(code));
  return static_cast<at::ScalarType>(code);
}

inline c10::Device parseDevice(const std::string& s) {
  try {
    return c10::Device(s);
  } catch (const std::exception&) {
    throw ArgError("invalid device \"" + s + "\" (expected cpu, cuda, cuda:N or mps)");
  }
}

inline std::vector<int64_t> toShape(const Napi::Value& v) {
  if (!v.IsArray()) throw ArgError("shape must be an array of non-negative integers");
  const auto arr = v.As<Napi::Array>();
  std::vector<int64_t> shape(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    const auto e = arr.Get(i);
    const double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0) || d != static_cast<double>(static_cast<int64_t>(d))) throw ArgError("shape must be an array of non-negative integers");
    shape[i] = static_cast<int64_t>(d);
  }
  return shape;
}

// The dtype names used by the TypeScript API (float32, bfloat16, ...), for error messages.
inline std::string dtypeName(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    case at::kDouble: return "float64";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(type);
  }
}

inline std::string describeTensor(const at::Tensor& t) {
  if (!t.defined()) return "None";
  std::string s = dtypeName(t.scalar_type());
  s += "[";
  for (int64_t i = 0; i < t.dim(); i++) {
    if (i > 0) s += ", ";
    s += std::to_string(t.size(i));
  }
  s += "]";
  if (!t.device().is_cpu()) s += "@" + t.device().str();
  return s;
}

inline int32_t toId(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw ArgError(std::string(what) + ": a Tensor handle expected");
  return v.As<Napi::Number>().Int32Value();
}

}  // namespace wordle
