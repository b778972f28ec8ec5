// Entry point of the wordle-grpo tensor addon: a thin, generic bridge from JavaScript to libtorch.
// No model code lives here; src/engine/ builds everything on these functions.
#include <napi.h>

#include "autograd.h"
#include "decode_attention.h"
#include "distributed.h"
#include "fused_kernels.h"
#include "lora_epilogue.h"
#include "dropout.h"
#include "op_profile.h"
#include "ops.h"
#include "runtime.h"
#include "small_linear.h"
#include "tensor_api.h"

namespace wordle {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  chooseBlasKernels();
  const std::pair<const char*, Napi::Value (*)(const Napi::CallbackInfo&)> functions[] = {
      // operators
      {"resolveOp", ResolveOp},
      {"hasOp", HasOp},
      {"opSchema", OpSchema},
      {"callOp", CallOp},
      {"callOpVoid", CallOpVoid},
      {"counterDropout", CounterDropoutOp},
      {"smallLinear", SmallLinearOp},
      {"loraSmallLinear", LoraSmallLinearOp},
      {"decodeAttention", DecodeAttentionOp},
      {"loraEpilogue", LoraEpilogueOp},
      {"setFusedKernels", SetFusedKernels},
      {"fusedKernelSupport", FusedKernelSupport},
      // handles and data
      {"fromData", FromData},
      {"toData", ToData},
      {"fromFile", FromFile},
      {"release", Release},
      {"releaseMany", ReleaseMany},
      {"share", Share},
      {"liveCount", LiveCount},
      {"meta", Meta},
      {"device", DeviceOf},
      {"item", Item},
      {"describe", Describe},
      {"strides", Strides},
      {"version", Version},
      // autograd
      {"setRequiresGrad", SetRequiresGrad},
      {"requiresGrad", RequiresGrad},
      {"isLeaf", IsLeaf},
      {"grad", Grad},
      {"setGrad", SetGrad},
      {"backward", Backward},
      {"autogradGrad", AutogradGrad},
      {"setGradEnabled", SetGradEnabled},
      {"isGradEnabled", IsGradEnabled},
      // runtime
      {"manualSeed", ManualSeed},
      {"getRngState", GetRngState},
      {"setRngState", SetRngState},
      {"setNumThreads", SetNumThreads},
      {"getNumThreads", GetNumThreads},
      {"getBlasNumThreads", GetBlasNumThreads},
      {"getBlasCoreName", GetBlasCoreName},
      {"cudaAvailable", CudaAvailable},
      {"cudaDeviceCount", CudaDeviceCount},
      {"cudaSynchronize", CudaSynchronize},
      {"cudaMemoryStats", CudaMemoryStats},
      {"cudaEmptyCache", CudaEmptyCache},
      {"mpsAvailable", MpsAvailable},
      {"mpsSynchronize", MpsSynchronize},
      {"buildInfo", BuildInfo},
      // profiling
      {"opProfile", OpProfile},
      {"opProfileTotals", OpProfileTotals},
      // torch.distributed (c10d)
      {"distributedBackends", DistributedBackends},
      {"distCreate", DistCreate},
      {"distAllReduce", DistAllReduce},
      {"distAllReduceFlat", DistAllReduceFlat},
      {"distBroadcast", DistBroadcast},
      {"distAllGather", DistAllGather},
      {"distBarrier", DistBarrier},
      {"distStoreSet", DistStoreSet},
      {"distStoreGet", DistStoreGet},
      {"distStoreCheck", DistStoreCheck},
      {"distDestroy", DistDestroy},
  };
  for (const auto& [name, fn] : functions) exports.Set(name, Napi::Function::New(env, fn, name));
  exports.Set("dtypes", DtypeTable(env));
  return exports;
}

}  // namespace wordle

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return wordle::Init(env, exports); }

NODE_API_MODULE(wordle_torch, InitModule)
