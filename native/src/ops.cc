// Calling ATen operators by name through the c10 dispatcher.
//
// resolveOp("aten::add", "Tensor") looks the operator up once and precomputes, from its schema, how
// each JavaScript argument is converted (tensor handle, int, float, bool, Scalar, list, ...).
// callOp(id, ...args) then only converts values and calls the boxed kernel. Going through the
// dispatcher means autograd, device dispatch (CPU/CUDA/MPS) and type promotion behave exactly as in
// PyTorch, and the same sources work with libtorch 1.13 and 2.x, where many C++ signatures differ
// (SymInt) but operator schemas are stable.
#include "ops.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/version.h>

#include <cmath>
#include <type_traits>
#include <utility>
#include <sstream>

#include "convert.h"
#include "errors.h"
#include "tensor_table.h"

namespace wordle {
namespace {

enum class ArgKind {
  Tensor,
  Int,
  Float,
  Bool,
  Scalar,
  String,
  Device,
  IntList,
  FloatList,
  BoolList,
  TensorList,
  OptionalTensorList,
  Unsupported,
};

// c10::optional is its own class in libtorch 1.13 and an alias of std::optional in 2.x; deriving
// the types from libtorch's own signatures keeps this file valid for both.
using DefaultValue = std::decay_t<decltype(std::declval<const c10::Argument&>().default_value())>;
using OptionalTensor = std::decay_t<decltype(std::declval<c10::IValue&>().toOptional<at::Tensor>())>;

struct ArgSpec {
  std::string name;
  std::string type;
  ArgKind kind;
  bool optional;
  DefaultValue defaultValue;
};

struct OpEntry {
  OpEntry(c10::OperatorHandle h, std::string n) : handle(std::move(h)), name(std::move(n)) {}
  c10::OperatorHandle handle;
  std::string name;
  std::vector<ArgSpec> args;
};

// Per thread, like the tensor table (see tensors()): op ids are only meaningful to the JS thread
// that resolved them.
std::vector<OpEntry>& registry() {
  thread_local std::vector<OpEntry> entries;
  return entries;
}

ArgKind kindOf(const c10::TypePtr& type) {
  using K = c10::TypeKind;
  switch (type->kind()) {
    case K::TensorType:
      return ArgKind::Tensor;
    case K::IntType:
    case K::SymIntType:
      return ArgKind::Int;  // also ScalarType / Layout / MemoryFormat, which travel as enum codes
    case K::FloatType:
      return ArgKind::Float;
    case K::BoolType:
      return ArgKind::Bool;
    case K::NumberType:
      return ArgKind::Scalar;
    case K::StringType:
      return ArgKind::String;
    case K::DeviceObjType:
      return ArgKind::Device;
    case K::ListType: {
      const auto elem = type->castRaw<c10::ListType>()->getElementType();
      switch (elem->kind()) {
        case K::IntType:
        case K::SymIntType:
          return ArgKind::IntList;
        case K::FloatType:
          return ArgKind::FloatList;
        case K::BoolType:
          return ArgKind::BoolList;
        case K::TensorType:
          return ArgKind::TensorList;
        case K::OptionalType:
          if (elem->castRaw<c10::OptionalType>()->getElementType()->kind() == K::TensorType) {
            return ArgKind::OptionalTensorList;
          }
          return ArgKind::Unsupported;
        default:
          return ArgKind::Unsupported;
      }
    }
    default:
      return ArgKind::Unsupported;
  }
}

[[noreturn]] void badArg(const ArgSpec& spec, const char* expected) {
  throw ArgError("argument '" + spec.name + "' (" + spec.type + ") expects " + expected);
}

int64_t toInt(const Napi::Value& v, const ArgSpec& spec) {
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || std::floor(d) != d) badArg(spec, "an integer");
    return static_cast<int64_t>(d);
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (v.IsBigInt()) {
    bool lossless = false;
    return v.As<Napi::BigInt>().Int64Value(&lossless);
  }
  badArg(spec, "an integer");
}

c10::IValue toIntList(const Napi::Value& v, const ArgSpec& spec) {
  if (v.IsNumber()) return c10::List<int64_t>({toInt(v, spec)});  // int[1] accepts a bare int
  if (!v.IsArray()) badArg(spec, "an array of integers");
  const auto arr = v.As<Napi::Array>();
  const uint32_t n = arr.Length();
  c10::List<int64_t> list;
  list.reserve(n);
  for (uint32_t i = 0; i < n; i++) list.push_back(toInt(arr.Get(i), spec));
  return list;
}

c10::IValue toScalar(const Napi::Value& v, const ArgSpec& spec) {
  if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
  if (!v.IsNumber()) badArg(spec, "a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  // JavaScript has one number type; integral values become integer Scalars so that integer tensors
  // stay integer (t.mul(2) on int64 stays int64), as a Python int would.
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9007199254740992.0) {
    return c10::Scalar(static_cast<int64_t>(d));
  }
  return c10::Scalar(d);
}

c10::IValue toIValue(const Napi::Value& v, const ArgSpec& spec) {
  switch (spec.kind) {
    case ArgKind::Tensor:
      if (!v.IsNumber()) badArg(spec, "a Tensor");
      return tensors().get(v.As<Napi::Number>().Int32Value());
    case ArgKind::Int:
      return toInt(v, spec);
    case ArgKind::Float:
      if (!v.IsNumber()) badArg(spec, "a number");
      return v.As<Napi::Number>().DoubleValue();
    case ArgKind::Bool:
      if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
      if (v.IsNumber()) return v.As<Napi::Number>().DoubleValue() != 0;
      badArg(spec, "a boolean");
    case ArgKind::Scalar:
      return toScalar(v, spec);
    case ArgKind::String:
      if (!v.IsString()) badArg(spec, "a string");
      return v.As<Napi::String>().Utf8Value();
    case ArgKind::Device:
      if (!v.IsString()) badArg(spec, "a device string such as \"cpu\" or \"cuda:0\"");
      return parseDevice(v.As<Napi::String>().Utf8Value());
    case ArgKind::IntList:
      return toIntList(v, spec);
    case ArgKind::FloatList: {
      if (!v.IsArray()) badArg(spec, "an array of numbers");
      const auto arr = v.As<Napi::Array>();
      c10::List<double> list;
      for (uint32_t i = 0; i < arr.Length(); i++) list.push_back(arr.Get(i).As<Napi::Number>().DoubleValue());
      return list;
    }
    case ArgKind::BoolList: {
      if (!v.IsArray()) badArg(spec, "an array of booleans");
      const auto arr = v.As<Napi::Array>();
      c10::List<bool> list;
      for (uint32_t i = 0; i < arr.Length(); i++) list.push_back(arr.Get(i).ToBoolean().Value());
      return list;
    }
    case ArgKind::TensorList: {
      if (!v.IsArray()) badArg(spec, "an array of Tensors");
      const auto arr = v.As<Napi::Array>();
      const uint32_t n = arr.Length();
      c10::List<at::Tensor> list;
      list.reserve(n);
      for (uint32_t i = 0; i < n; i++) {
        const auto e = arr.Get(i);
        if (!e.IsNumber()) badArg(spec, "an array of Tensors");
        list.push_back(tensors().get(e.As<Napi::Number>().Int32Value()));
      }
      return list;
    }
    case ArgKind::OptionalTensorList: {
      if (!v.IsArray()) badArg(spec, "an array of Tensors or nulls");
      const auto arr = v.As<Napi::Array>();
      c10::List<OptionalTensor> list;
      for (uint32_t i = 0; i < arr.Length(); i++) {
        const auto e = arr.Get(i);
        if (e.IsNull() || e.IsUndefined()) {
          list.push_back(OptionalTensor());
        } else {
          if (!e.IsNumber()) badArg(spec, "an array of Tensors or nulls");
          list.push_back(tensors().get(e.As<Napi::Number>().Int32Value()));
        }
      }
      return list;
    }
    case ArgKind::Unsupported:
      break;
  }
  throw ArgError("argument '" + spec.name + "' has type " + spec.type + ", which the addon cannot pass from JavaScript; leave it undefined to use its default");
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& iv) {
  if (iv.isTensor()) {
    const auto& t = iv.toTensor();
    if (!t.defined()) return env.Null();
    return Napi::Number::New(env, tensors().put(t));
  }
  if (iv.isNone()) return env.Null();
  if (iv.isInt()) return Napi::Number::New(env, static_cast<double>(iv.toInt()));
  if (iv.isDouble()) return Napi::Number::New(env, iv.toDouble());
  if (iv.isBool()) return Napi::Boolean::New(env, iv.toBool());
  if (iv.isScalar()) return Napi::Number::New(env, iv.toScalar().toDouble());
  if (iv.isTensorList()) {
    const auto list = iv.toTensorVector();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, tensors().put(list[i])));
    return arr;
  }
  if (iv.isIntList()) {
    const auto list = iv.toIntVector();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(list[i])));
    return arr;
  }
  if (iv.isTuple()) {
    const auto& elems = iv.toTupleRef().elements();
    auto arr = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) arr.Set(static_cast<uint32_t>(i), fromIValue(env, elems[i]));
    return arr;
  }
  throw std::runtime_error("cannot return a value of type " + iv.tagKind() + " to JavaScript");
}

// For error messages: "aten::matmul(float32[2, 3], float32[4, 5])".
std::string describeCall(const OpEntry& op, const Napi::CallbackInfo& info) {
  std::ostringstream out;
  out << op.name << "(";
  for (size_t i = 0; i < op.args.size(); i++) {
    const size_t jsIndex = i + 1;
    if (jsIndex >= info.Length() || info[jsIndex].IsUndefined()) continue;
    if (i > 0) out << ", ";
    const auto& spec = op.args[i];
    const auto v = info[jsIndex];
    if (spec.kind == ArgKind::Tensor && v.IsNumber() && tensors().isLive(v.As<Napi::Number>().Int32Value())) {
      out << describeTensor(tensors().get(v.As<Napi::Number>().Int32Value()));
    } else if ((spec.kind == ArgKind::TensorList || spec.kind == ArgKind::OptionalTensorList) && v.IsArray()) {
      const auto arr = v.As<Napi::Array>();
      out << "[";
      for (uint32_t k = 0; k < arr.Length(); k++) {
        const auto e = arr.Get(k);
        if (k > 0) out << ", ";
        if (e.IsNumber() && tensors().isLive(e.As<Napi::Number>().Int32Value())) {
          out << describeTensor(tensors().get(e.As<Napi::Number>().Int32Value()));
        } else {
          out << "None";
        }
      }
      out << "]";
    } else {
      out << spec.name << "=" << v.ToString().Utf8Value();
    }
  }
  out << ")";
  return out.str();
}

// Runs the operator; leaves its results on `stack`. Errors name the op and the input shapes.
void run(const Napi::CallbackInfo& info, torch::jit::Stack& stack, const OpEntry*& opOut) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "callOp: first argument must be an op id from resolveOp");
  const int32_t id = info[0].As<Napi::Number>().Int32Value();
  auto& entries = registry();
  if (id < 0 || static_cast<size_t>(id) >= entries.size()) throw Napi::RangeError::New(info.Env(), "callOp: unknown op id " + std::to_string(id));
  const OpEntry& op = entries[id];
  opOut = &op;
  size_t given = info.Length() - 1;
  while (given > op.args.size() && info[given].IsUndefined()) given--;  // trailing undefined = not given
  if (given > op.args.size()) {
    throw Napi::TypeError::New(info.Env(), op.name + ": got " + std::to_string(given) + " arguments, the schema takes " + std::to_string(op.args.size()) + ": " + toString(op.handle.schema()));
  }
  try {
    stack.reserve(op.args.size());
    for (size_t i = 0; i < op.args.size(); i++) {
      const ArgSpec& spec = op.args[i];
      const Napi::Value v = i < given ? info[i + 1] : info.Env().Undefined();
      const bool isUndefined = v.IsUndefined();
      if (isUndefined || v.IsNull()) {
        // undefined: the schema default; null: None (for optional args), else the default.
        if (isUndefined && spec.defaultValue) {
          stack.push_back(*spec.defaultValue);
        } else if (spec.optional) {
          stack.emplace_back();
        } else if (spec.defaultValue) {
          stack.push_back(*spec.defaultValue);
        } else {
          throw ArgError("missing required argument '" + spec.name + "' (" + spec.type + ")");
        }
        continue;
      }
      stack.push_back(toIValue(v, spec));
    }
    op.handle.callBoxed(&stack);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), describeCall(op, info) + ": " + describeException(e));
  }
}

}  // namespace

// resolveOp(name: string, overload: string) -> op id. Throws if the linked libtorch lacks the op.
Napi::Value ResolveOp(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    throw Napi::TypeError::New(info.Env(), "resolveOp(name, overload): two strings expected, e.g. (\"aten::add\", \"Tensor\")");
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const std::string overload = info[1].As<Napi::String>().Utf8Value();
  const std::string full = overload.empty() ? name : name + "." + overload;
  auto& entries = registry();
  for (size_t i = 0; i < entries.size(); i++) {
    if (entries[i].name == full) return Napi::Number::New(info.Env(), static_cast<double>(i));
  }
  const auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) throw Napi::Error::New(info.Env(), "operator " + full + " is not available in this libtorch (" TORCH_VERSION ")");
  OpEntry entry(*handle, full);
  for (const auto& a : handle->schema().arguments()) {
    c10::TypePtr type = a.type();
    const bool optional = type->kind() == c10::TypeKind::OptionalType;
    if (optional) type = type->castRaw<c10::OptionalType>()->getElementType();
    entry.args.push_back({a.name(), a.type()->str(), kindOf(type), optional, a.default_value()});
  }
  entries.push_back(std::move(entry));
  return Napi::Number::New(info.Env(), static_cast<double>(entries.size() - 1));
  WORDLE_CATCH("resolveOp")
}

// hasOp(name, overload) -> boolean, for optional fused kernels (e.g. scaled_dot_product_attention).
Napi::Value HasOp(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const std::string overload = info[1].As<Napi::String>().Utf8Value();
  return Napi::Boolean::New(info.Env(), c10::Dispatcher::singleton().findSchema({name, overload}).has_value());
  WORDLE_CATCH("hasOp")
}

// opSchema(id) -> the schema string, for error messages and docs.
Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const int32_t id = info[0].As<Napi::Number>().Int32Value();
  auto& entries = registry();
  if (id < 0 || static_cast<size_t>(id) >= entries.size()) throw Napi::RangeError::New(info.Env(), "opSchema: unknown op id");
  return Napi::String::New(info.Env(), toString(entries[id].handle.schema()));
  WORDLE_CATCH("opSchema")
}

// callOp(id, ...args) -> tensor id | number | boolean | null | array of those.
Napi::Value CallOp(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  torch::jit::Stack stack;
  const OpEntry* op = nullptr;
  run(info, stack, op);
  if (stack.size() == 1) return fromIValue(info.Env(), stack[0]);
  auto arr = Napi::Array::New(info.Env(), stack.size());
  for (size_t i = 0; i < stack.size(); i++) arr.Set(static_cast<uint32_t>(i), fromIValue(info.Env(), stack[i]));
  return arr;
  WORDLE_CATCH("callOp")
}

// callOpVoid(id, ...args): runs an op for its side effect (in-place ops) and drops the results,
// so no new handle is allocated for the returned alias of `self`.
Napi::Value CallOpVoid(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  torch::jit::Stack stack;
  const OpEntry* op = nullptr;
  run(info, stack, op);
  return info.Env().Undefined();
  WORDLE_CATCH("callOpVoid")
}

}  // namespace wordle
