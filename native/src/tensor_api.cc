// Tensor handles: creation from JavaScript memory or a file, reading back, metadata, release.
#include "tensor_api.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "convert.h"
#include "errors.h"
#include "tensor_table.h"

namespace wordle {

// One table per thread: Node runs each worker_thread's JavaScript on its own OS thread, so workers
// that load the engine get independent handle spaces instead of racing on a shared table.
TensorTable& tensors() {
  thread_local TensorTable table;
  return table;
}

namespace {

int64_t numelOf(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (const auto d : shape) n *= d;
  return n;
}

at::TensorOptions optionsFor(at::ScalarType dtype, const Napi::Value& device) {
  auto opts = at::TensorOptions().dtype(dtype);
  if (device.IsString()) opts = opts.device(parseDevice(device.As<Napi::String>().Utf8Value()));
  return opts;
}

}  // namespace

// fromData(view: ArrayBufferView, srcDtype, shape, dstDtype, device?) -> id
// One pass: the JS memory is viewed in place (from_blob, no copy) and copied once into a tensor
// owned by libtorch, converting dtype and moving to the device on the way. Owning the result
// keeps JS and libtorch lifetimes independent (no aliasing of a buffer JS may later mutate).
Napi::Value FromData(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  if (!info[0].IsTypedArray()) throw ArgError("data must be a TypedArray or Buffer");
  const auto view = info[0].As<Napi::TypedArray>();
  const auto src = toScalarType(info[1]);
  const auto shape = toShape(info[2]);
  const auto dst = toScalarType(info[3]);
  const int64_t numel = numelOf(shape);
  const size_t bytes = static_cast<size_t>(numel) * c10::elementSize(src);
  if (view.ByteLength() != bytes) {
    throw ArgError("data has " + std::to_string(view.ByteLength()) + " bytes but shape [" + c10::Join(", ", shape) + "] of " +
                   dtypeName(src) + " needs " + std::to_string(bytes));
  }
  auto out = at::empty(shape, optionsFor(dst, info[4]));
  if (numel > 0) {
    auto* data = static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    out.copy_(at::from_blob(data, shape, at::TensorOptions().dtype(src)));
  }
  return Napi::Number::New(info.Env(), tensors().put(std::move(out)));
  WORDLE_CATCH("fromData")
}

// toData(id, dstDtype) -> ArrayBuffer holding the tensor's values as dstDtype, in row-major order.
// One pass: libtorch copies (and converts, and brings to CPU) straight into the JS-owned buffer.
Napi::Value ToData(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const auto& t = tensors().get(toId(info[0], "toData"));
  const auto dst = toScalarType(info[1]);
  const size_t bytes = static_cast<size_t>(t.numel()) * c10::elementSize(dst);
  auto buffer = Napi::ArrayBuffer::New(info.Env(), bytes);
  if (bytes > 0) {
    at::from_blob(buffer.Data(), t.sizes(), at::TensorOptions().dtype(dst)).copy_(t.detach());
  }
  return buffer;
  WORDLE_CATCH("toData")
}

// fromFile(path, byteOffset, srcDtype, shape, dstDtype, device?) -> id
// Reads raw little-endian values straight from a file into tensor memory (used for safetensors
// weights), so a large file never has to sit in a JS Buffer as well.
Napi::Value FromFile(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const double offsetD = info[1].As<Napi::Number>().DoubleValue();
  const auto src = toScalarType(info[2]);
  const auto shape = toShape(info[3]);
  const auto dst = toScalarType(info[4]);
  if (!(offsetD >= 0)) throw ArgError("byteOffset must be >= 0");
  auto raw = at::empty(shape, at::TensorOptions().dtype(src));
  const size_t bytes = static_cast<size_t>(raw.numel()) * c10::elementSize(src);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  auto* dstBytes = static_cast<char*>(raw.data_ptr());
  size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pread(fd, dstBytes + done, bytes - done, static_cast<off_t>(offsetD) + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string reason = n < 0 ? std::strerror(errno) : "unexpected end of file";
      ::close(fd);
      throw std::runtime_error(path + ": reading " + std::to_string(bytes) + " bytes at offset " + std::to_string(static_cast<int64_t>(offsetD)) + " failed after " +
                               std::to_string(done) + " bytes: " + reason);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  at::Tensor out = raw;
  const auto opts = optionsFor(dst, info[5]);
  if (dst != src || opts.device() != raw.device()) out = raw.to(opts.device(), dst);
  return Napi::Number::New(info.Env(), tensors().put(std::move(out)));
  WORDLE_CATCH("fromFile")
}

// release(id): frees the handle (the memory goes when no view or autograd graph still uses it).
Napi::Value Release(const Napi::CallbackInfo& info) {
  if (info[0].IsNumber()) tensors().release(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// releaseMany(ids: number[]): one crossing for all the temporaries of a closing scope.
Napi::Value ReleaseMany(const Napi::CallbackInfo& info) {
  if (!info[0].IsArray()) return info.Env().Undefined();
  const auto arr = info[0].As<Napi::Array>();
  const uint32_t n = arr.Length();
  for (uint32_t i = 0; i < n; i++) {
    const auto v = arr.Get(i);
    if (v.IsNumber()) tensors().release(v.As<Napi::Number>().Int32Value());
  }
  return info.Env().Undefined();
}

// share(id) -> a second handle to the same tensor (same storage and autograd identity).
Napi::Value Share(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  at::Tensor t = tensors().get(toId(info[0], "share"));
  return Napi::Number::New(info.Env(), tensors().put(std::move(t)));
  WORDLE_CATCH("share")
}

Napi::Value LiveCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(tensors().live()));
}

// meta(id) -> [dtypeCode, ...shape]: one call for what the TypeScript side caches per tensor.
Napi::Value Meta(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const auto& t = tensors().get(toId(info[0], "meta"));
  auto arr = Napi::Array::New(info.Env(), t.dim() + 1);
  arr.Set(0u, Napi::Number::New(info.Env(), static_cast<int>(t.scalar_type())));
  for (int64_t i = 0; i < t.dim(); i++) arr.Set(static_cast<uint32_t>(i + 1), Napi::Number::New(info.Env(), static_cast<double>(t.size(i))));
  return arr;
  WORDLE_CATCH("meta")
}

Napi::Value DeviceOf(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  return Napi::String::New(info.Env(), tensors().get(toId(info[0], "device")).device().str());
  WORDLE_CATCH("device")
}

// item(id) -> number (the single value of a one-element tensor).
Napi::Value Item(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const auto& t = tensors().get(toId(info[0], "item"));
  if (t.numel() != 1) throw ArgError("item() needs a tensor with one element, got " + describeTensor(t));
  return Napi::Number::New(info.Env(), t.item().toDouble());
  WORDLE_CATCH("item")
}

// describe(id) -> "float32[2, 3]" (plus "@cuda:0" off the CPU).
Napi::Value Describe(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  return Napi::String::New(info.Env(), describeTensor(tensors().get(toId(info[0], "describe"))));
  WORDLE_CATCH("describe")
}

Napi::Value Strides(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const auto& t = tensors().get(toId(info[0], "strides"));
  auto arr = Napi::Array::New(info.Env(), t.dim());
  for (int64_t i = 0; i < t.dim(); i++) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(t.stride(i))));
  return arr;
  WORDLE_CATCH("strides")
}

// version(id) -> the tensor's version counter: in-place writes (an optimizer step) increase it,
// so a value derived from the tensor can tell when it went stale.
Napi::Value Version(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const auto& t = tensors().get(toId(info[0], "version"));
  return Napi::Number::New(info.Env(), static_cast<double>(t._version()));
  WORDLE_CATCH("version")
}

Napi::Value DtypeTable(Napi::Env env) {
  auto table = Napi::Object::New(env);
  const std::pair<const char*, at::ScalarType> entries[] = {
      {"float32", at::kFloat}, {"bfloat16", at::kBFloat16}, {"float16", at::kHalf}, {"float64", at::kDouble},
      {"int64", at::kLong},    {"int32", at::kInt},         {"int16", at::kShort},  {"int8", at::kChar},
      {"uint8", at::kByte},    {"bool", at::kBool},
  };
  for (const auto& [name, type] : entries) table.Set(name, Napi::Number::New(env, static_cast<int>(type)));
  return table;
}

}  // namespace wordle
