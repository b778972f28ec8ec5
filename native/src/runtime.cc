// Process-wide settings: random number generators, threads, CUDA / MPS queries, build info.
#include "runtime.h"

#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#ifdef WORDLE_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif
#if TORCH_VERSION_MAJOR >= 2 && __has_include(<torch/mps.h>)
#include <torch/mps.h>
#define WORDLE_HAS_MPS_API 1
#endif

#include "convert.h"
#include "errors.h"

namespace wordle {
namespace {

at::Generator defaultGenerator(const Napi::Value& device) {
  const c10::Device d = device.IsString() ? parseDevice(device.As<Napi::String>().Utf8Value()) : c10::Device(c10::kCPU);
  if (d.is_cpu()) return at::detail::getDefaultCPUGenerator();
  return at::globalContext().defaultGenerator(d);
}

// A libtorch built against OpenBLAS (Debian's libtorch-dev) hands its matmuls to OpenBLAS's own
// thread pool, which at::set_num_threads does not size: with "1 thread" a second OpenBLAS worker
// still spun on the other core (sched_yield), halving the speed of anything running beside it for
// no gain. Size that pool with the intra-op count. Builds without OpenBLAS (MKL, Accelerate) lack
// the symbol, and this does nothing.
void setBlasThreads(int n) {
  using SetThreads = void (*)(int);
  static const auto setThreads = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (setThreads != nullptr) setThreads(n);
}

// OpenBLAS's thread count, or -1 when libtorch does not use OpenBLAS.
int blasThreads() {
  using GetThreads = int (*)();
  static const auto getThreads = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return getThreads != nullptr ? getThreads() : -1;
}

// OpenBLAS's kernel set (openblas_get_corename), or "" when libtorch does not use OpenBLAS.
std::string blasCoreName() {
  using GetName = char* (*)();
  static const auto getName = reinterpret_cast<GetName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  const char* name = getName != nullptr ? getName() : nullptr;
  return name != nullptr ? name : "";
}

}  // namespace

// A dynamic-arch OpenBLAS picks its kernels from a table of known CPUs; a CPU newer than its
// table gets the generic "Prescott" (SSE3) kernels. Debian 12's OpenBLAS 0.3.21 does that on an
// Emerald Rapids Xeon, where its float32 GEMMs then ran 2-4x slower than the AVX-512 ones (the
// tiny preset's training step: 3.0 s -> 1.5 s). When nothing chose the kernels (no
// OPENBLAS_CORETYPE) and OpenBLAS fell back that way, pick the best set the CPU supports and let
// OpenBLAS initialise it (its own quit/init entry points), before any BLAS call. A known CPU, or a
// user's OPENBLAS_CORETYPE, is left as it is.
void chooseBlasKernels() {
#if defined(__x86_64__)
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr || blasCoreName() != "Prescott") return;
  using Hook = void (*)();
  const auto quit = reinterpret_cast<Hook>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit"));
  const auto init = reinterpret_cast<Hook>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init"));
  if (quit == nullptr || init == nullptr) return;
  __builtin_cpu_init();
  const char* core = nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq")) {
    core = "SkylakeX";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    core = "Haswell";
  }
  if (core == nullptr) return;
  setenv("OPENBLAS_CORETYPE", core, 1);
  quit();
  init();
  unsetenv("OPENBLAS_CORETYPE");
#endif
}

// getBlasCoreName() -> OpenBLAS's kernel set ("" without OpenBLAS).
Napi::Value GetBlasCoreName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), blasCoreName());
}

// manualSeed(seed): seeds the CPU generator and every CUDA generator, like torch.manual_seed.
Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const double seed = info[0].As<Napi::Number>().DoubleValue();
  if (!(seed >= 0) || seed != static_cast<double>(static_cast<uint64_t>(seed))) throw ArgError("seed must be a non-negative integer");
  torch::manual_seed(static_cast<uint64_t>(seed));
  return info.Env().Undefined();
  WORDLE_CATCH("manualSeed")
}

// getRngState(device?) -> Uint8Array: the generator's full state (same bytes as torch.get_rng_state()).
Napi::Value GetRngState(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  auto gen = defaultGenerator(info[0]);
  at::Tensor state;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    state = gen.get_state().contiguous();
  }
  auto out = Napi::Uint8Array::New(info.Env(), state.numel());
  std::memcpy(out.Data(), state.data_ptr(), state.numel());
  return out;
  WORDLE_CATCH("getRngState")
}

// setRngState(device | undefined, bytes: Uint8Array)
Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  if (!info[1].IsTypedArray()) throw ArgError("state must be a Uint8Array from getRngState");
  const auto bytes = info[1].As<Napi::TypedArray>();
  auto* data = static_cast<uint8_t*>(bytes.ArrayBuffer().Data()) + bytes.ByteOffset();
  const auto state = at::from_blob(data, {static_cast<int64_t>(bytes.ByteLength())}, at::kByte).clone();
  auto gen = defaultGenerator(info[0]);
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
  return info.Env().Undefined();
  WORDLE_CATCH("setRngState")
}

// setNumThreads(n): intra-op threads (matmuls, element-wise kernels), and OpenBLAS's threads.
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const int32_t n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw ArgError("thread count must be >= 1");
  at::set_num_threads(n);
  setBlasThreads(n);
  return info.Env().Undefined();
  WORDLE_CATCH("setNumThreads")
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value GetBlasNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), blasThreads());
}

Napi::Value CudaAvailable(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  return Napi::Boolean::New(info.Env(), torch::cuda::is_available());
  WORDLE_CATCH("cudaAvailable")
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count()));
  WORDLE_CATCH("cudaDeviceCount")
}

// cudaSynchronize(index = -1 for the current device)
Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  if (!torch::cuda::is_available()) throw std::runtime_error("CUDA is not available");
  torch::cuda::synchronize(info[0].IsNumber() ? info[0].As<Napi::Number>().Int64Value() : -1);
  return info.Env().Undefined();
  WORDLE_CATCH("cudaSynchronize")
}

// cudaMemoryStats(index) -> { allocated, allocatedPeak, reserved, reservedPeak } in bytes.
Napi::Value CudaMemoryStats(const Napi::CallbackInfo& info) {
  WORDLE_TRY
#ifdef WORDLE_WITH_CUDA
  if (!torch::cuda::is_available()) throw std::runtime_error("CUDA is not available");
  const int index = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  // Index 0 of each stat array is the aggregate over pool types (StatType::AGGREGATE), in 1.13 and 2.x.
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(index));
  auto out = Napi::Object::New(info.Env());
  out.Set("allocated", static_cast<double>(stats.allocated_bytes[0].current));
  out.Set("allocatedPeak", static_cast<double>(stats.allocated_bytes[0].peak));
  out.Set("reserved", static_cast<double>(stats.reserved_bytes[0].current));
  out.Set("reservedPeak", static_cast<double>(stats.reserved_bytes[0].peak));
  return out;
#else
  throw std::runtime_error("this addon was built against a libtorch without CUDA (" TORCH_VERSION ")");
#endif
  WORDLE_CATCH("cudaMemoryStats")
}

Napi::Value CudaEmptyCache(const Napi::CallbackInfo& info) {
  WORDLE_TRY
#ifdef WORDLE_WITH_CUDA
  if (torch::cuda::is_available()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
  return info.Env().Undefined();
  WORDLE_CATCH("cudaEmptyCache")
}

Napi::Value MpsAvailable(const Napi::CallbackInfo& info) {
  WORDLE_TRY
#ifdef WORDLE_HAS_MPS_API
  return Napi::Boolean::New(info.Env(), torch::mps::is_available());
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
  WORDLE_CATCH("mpsAvailable")
}

Napi::Value MpsSynchronize(const Napi::CallbackInfo& info) {
  WORDLE_TRY
#ifdef WORDLE_HAS_MPS_API
  torch::mps::synchronize();
  return info.Env().Undefined();
#else
  throw std::runtime_error("this libtorch (" TORCH_VERSION ") has no MPS support");
#endif
  WORDLE_CATCH("mpsSynchronize")
}

// buildInfo() -> { torchVersion, cuda, mps, parallel, config }
Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  auto out = Napi::Object::New(info.Env());
  out.Set("torchVersion", TORCH_VERSION);
#ifdef WORDLE_WITH_CUDA
  out.Set("cudaBuild", true);
#else
  out.Set("cudaBuild", false);
#endif
#ifdef WORDLE_HAS_MPS_API
  out.Set("mpsBuild", true);
#else
  out.Set("mpsBuild", false);
#endif
  out.Set("parallel", at::get_parallel_info());
  out.Set("config", at::show_config());
  return out;
}

}  // namespace wordle
