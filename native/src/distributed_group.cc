// DistributedGroup over libtorch's c10d: TCPStore + ProcessGroupGloo / ProcessGroupNCCL.
//
// find-libtorch.cjs defines USE_C10D_GLOO where libtorch's ProcessGroupGloo.hpp and gloo's headers
// are present, and USE_C10D_NCCL for a CUDA libtorch with NCCL; the same macros guard those
// headers inside libtorch. Built with neither, every group creation says what is missing.
#include "distributed_group.h"

#include <cstdlib>

#include "errors.h"

#if defined(USE_C10D_GLOO) || defined(USE_C10D_NCCL)
#define WORDLE_WITH_C10D 1
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#include <torch/version.h>
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif
#endif
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace wordle {

bool backendCompiled(const std::string& backend) {
#ifdef USE_C10D_GLOO
  if (backend == "gloo") return true;
#endif
#ifdef USE_C10D_NCCL
  if (backend == "nccl") return true;
#endif
  return false;
}

namespace {

// Throws why `backend` cannot be used by this build, if it cannot.
void requireBackend(const std::string& backend) {
  if (backendCompiled(backend)) return;
  if (backend == "gloo") {
    throw ArgError("backend gloo: this addon was built without gloo (install libgloo-dev, which puts gloo's headers "
                   "where native/find-libtorch.cjs looks, and rebuild it with npm run build:native)");
  }
  if (backend == "nccl") {
    throw ArgError("backend nccl: this addon was built without NCCL (that needs a libtorch built with CUDA and NCCL, "
                   "and nccl.h; use gloo on the CPU)");
  }
  throw ArgError("unknown backend \"" + backend + "\" (gloo or nccl)");
}

}  // namespace

#ifndef WORDLE_WITH_C10D

struct DistributedGroup::Impl {};

std::unique_ptr<DistributedGroup> DistributedGroup::create(const GroupOptions& options) {
  requireBackend(options.backend);
  throw ArgError("unreachable: no backend is compiled in");
}

#define WORDLE_NO_C10D(what) throw ArgError(what ": this addon was built without torch.distributed backends")
void DistributedGroup::allReduce(const at::Tensor&, ReduceKind) { WORDLE_NO_C10D("allReduce"); }
void DistributedGroup::allReduceFlat(const std::vector<at::Tensor>&, ReduceKind) { WORDLE_NO_C10D("allReduceFlat"); }
void DistributedGroup::broadcast(const at::Tensor&, int) { WORDLE_NO_C10D("broadcast"); }
std::vector<at::Tensor> DistributedGroup::allGather(const at::Tensor&) { WORDLE_NO_C10D("allGather"); }
void DistributedGroup::barrier() { WORDLE_NO_C10D("barrier"); }
void DistributedGroup::storeSet(const std::string&, const std::string&) { WORDLE_NO_C10D("storeSet"); }
std::string DistributedGroup::storeGet(const std::string&, std::chrono::milliseconds) { WORDLE_NO_C10D("storeGet"); }
bool DistributedGroup::storeCheck(const std::string&) { WORDLE_NO_C10D("storeCheck"); }
#undef WORDLE_NO_C10D

#else

namespace {

// libtorch 2 split the collective implementations (c10d::Backend) from the ProcessGroup that
// dispatches to them; in 1.13 ProcessGroupGloo/NCCL are ProcessGroups. Either way the methods used
// here (allreduce, broadcast, allgather, barrier) have the same signatures.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

// A collective waits for the backend's own timeout (the same as the group's) plus this much, so
// that the backend's error, which says what it was waiting for, usually comes first.
constexpr std::chrono::milliseconds kWaitSlack{2000};

c10d::ReduceOp toReduceOp(ReduceKind op) {
  switch (op) {
    case ReduceKind::Max: return c10d::ReduceOp::MAX;
    case ReduceKind::Min: return c10d::ReduceOp::MIN;
    case ReduceKind::Sum: break;
  }
  return c10d::ReduceOp::SUM;
}

#ifdef USE_C10D_GLOO
bool isLoopback(const std::string& addr) {
  return addr == "localhost" || addr == "::1" || addr.rfind("127.", 0) == 0;
}

// Where gloo listens for its peers. torch's convention: GLOO_SOCKET_IFNAME names the interface.
// Otherwise a loopback master address means every rank runs on this machine, so loopback is
// enough (and works without a resolvable hostname); else the address this host's name resolves to.
std::shared_ptr<::gloo::transport::Device> glooDevice(const std::string& masterAddr) {
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname != nullptr && *ifname != '\0') {
    const std::string names(ifname);
    return c10d::ProcessGroupGloo::createDeviceForInterface(names.substr(0, names.find(',')));
  }
  if (isLoopback(masterAddr)) return c10d::ProcessGroupGloo::createDeviceForHostname(masterAddr);
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

c10::intrusive_ptr<CollectiveBackend> makeGloo(const c10::intrusive_ptr<c10d::Store>& store, const GroupOptions& o) {
  if (!o.device.is_cpu()) throw ArgError("backend gloo works on CPU tensors; device " + o.device.str() + " needs nccl");
  auto options = c10d::ProcessGroupGloo::Options::create(o.timeout);
  options->devices.push_back(glooDevice(o.masterAddr));
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, o.rank, o.worldSize, options);
}
#endif

#ifdef USE_C10D_NCCL
c10::intrusive_ptr<CollectiveBackend> makeNccl(const c10::intrusive_ptr<c10d::Store>& store, const GroupOptions& o) {
  if (!o.device.is_cuda()) throw ArgError("backend nccl needs a CUDA device, not " + o.device.str());
  // The trainer is synchronous: a collective must have finished (or failed) when the call returns,
  // and a timeout must become an exception instead of the watchdog aborting the process. Both
  // variables are read when the process group is constructed.
#if TORCH_VERSION_MAJOR >= 2
  setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 1);
  setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "0", 1);
#else
  setenv("NCCL_BLOCKING_WAIT", "1", 1);
  setenv("NCCL_ASYNC_ERROR_HANDLING", "0", 1);
#endif
  c10::cuda::set_device(o.device.has_index() ? o.device.index() : 0);
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = o.timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, o.rank, o.worldSize, options);
}
#endif

c10::intrusive_ptr<CollectiveBackend> makeBackend(const c10::intrusive_ptr<c10d::Store>& store, const GroupOptions& o) {
#ifdef USE_C10D_GLOO
  if (o.backend == "gloo") return makeGloo(store, o);
#endif
#ifdef USE_C10D_NCCL
  if (o.backend == "nccl") return makeNccl(store, o);
#endif
  requireBackend(o.backend);
  throw ArgError("backend " + o.backend + " is compiled in but not constructed here");
}

}  // namespace

struct DistributedGroup::Impl {
  // Declared in this order so the backend (whose threads may still talk through the store) is
  // destroyed before the stores.
  GroupOptions options;
  c10::intrusive_ptr<c10d::Store> store;     // the TCPStore; rank 0 also serves it
  c10::intrusive_ptr<c10d::Store> appStore;  // storeSet/storeGet keys, apart from the backend's
  c10::intrusive_ptr<CollectiveBackend> backend;

  bool isGloo() const { return options.backend == "gloo"; }

  // The tensor handed to the backend: contiguous (both backends read raw memory) and, on gloo,
  // float32 for bfloat16, which gloo has no kernels for in libtorch 1.13 ("Invalid scalar type");
  // float32 holds every bfloat16 value exactly, and the result is rounded back once. bool has no
  // kernels either, and gloo would only say so from inside the collective, like a peer's failure.
  at::Tensor wireTensor(const at::Tensor& t) const {
    if (isGloo() && t.scalar_type() == at::kBool) throw ArgError("gloo has no kernels for bool tensors; use uint8");
    if (isGloo() && t.scalar_type() == at::kBFloat16) return t.to(at::kFloat).contiguous();
    return t.contiguous();
  }

  void finish(const c10::intrusive_ptr<c10d::Work>& work) const {
    try {
      work->wait(options.timeout + kWaitSlack);
    } catch (const std::exception& e) {
      throw CommunicationError(describeException(e));
    }
  }

  void allReduceInPlace(at::Tensor& wire, ReduceKind op) const {
    std::vector<at::Tensor> tensors{wire};
    c10d::AllreduceOptions opts;
    opts.reduceOp = toReduceOp(op);
    opts.timeout = options.timeout;
    finish(backend->allreduce(tensors, opts));
  }
};

std::unique_ptr<DistributedGroup> DistributedGroup::create(const GroupOptions& options) {
  if (options.worldSize < 1) throw ArgError("worldSize must be at least 1");
  if (options.rank < 0 || options.rank >= options.worldSize) {
    throw ArgError("rank " + std::to_string(options.rank) + " is outside 0.." + std::to_string(options.worldSize - 1));
  }
  requireBackend(options.backend);  // before anyone waits on the store for this rank
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  c10d::TCPStoreOptions storeOptions;
  storeOptions.port = options.masterPort;
  storeOptions.isServer = options.rank == 0;
  storeOptions.numWorkers = static_cast<size_t>(options.worldSize);
  storeOptions.waitWorkers = true;  // so a missing rank shows up here, named as such by the store
  storeOptions.timeout = options.timeout;
  impl->store = c10::make_intrusive<c10d::TCPStore>(options.masterAddr, storeOptions);
  impl->appStore = c10::make_intrusive<c10d::PrefixStore>("app", impl->store);
  impl->backend = makeBackend(c10::make_intrusive<c10d::PrefixStore>("backend", impl->store), options);
  return std::unique_ptr<DistributedGroup>(new DistributedGroup(std::move(impl)));
}

void DistributedGroup::allReduce(const at::Tensor& tensor, ReduceKind op) {
  at::NoGradGuard noGrad;
  at::Tensor wire = impl_->wireTensor(tensor);
  impl_->allReduceInPlace(wire, op);
  if (!wire.is_same(tensor)) tensor.copy_(wire);
}

void DistributedGroup::allReduceFlat(const std::vector<at::Tensor>& tensors, ReduceKind op) {
  if (tensors.empty()) return;
  const auto dtype = tensors[0].scalar_type();
  const auto device = tensors[0].device();
  for (const auto& t : tensors) {
    if (t.scalar_type() != dtype || t.device() != device) {
      throw ArgError("allReduceFlat: every tensor must have one dtype and device (" + std::string(c10::toString(dtype)) +
                     " on " + device.str() + "), got " + std::string(c10::toString(t.scalar_type())) + " on " +
                     t.device().str());
    }
  }
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> flat;
  flat.reserve(tensors.size());
  for (const auto& t : tensors) flat.push_back(t.reshape({-1}));
  at::Tensor bucket = impl_->wireTensor(at::cat(flat));
  impl_->allReduceInPlace(bucket, op);
  int64_t offset = 0;
  for (const auto& t : tensors) {
    const int64_t n = t.numel();
    t.copy_(bucket.narrow(0, offset, n).view(t.sizes()));
    offset += n;
  }
}

void DistributedGroup::broadcast(const at::Tensor& tensor, int root) {
  if (root < 0 || root >= impl_->options.worldSize) {
    throw ArgError("broadcast: root " + std::to_string(root) + " is outside 0.." + std::to_string(impl_->options.worldSize - 1));
  }
  at::NoGradGuard noGrad;
  at::Tensor wire = impl_->wireTensor(tensor);
  std::vector<at::Tensor> tensors{wire};
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  opts.rootTensor = 0;
  opts.timeout = impl_->options.timeout;
  impl_->finish(impl_->backend->broadcast(tensors, opts));
  if (!wire.is_same(tensor)) tensor.copy_(wire);
}

std::vector<at::Tensor> DistributedGroup::allGather(const at::Tensor& tensor) {
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> inputs{impl_->wireTensor(tensor)};
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < impl_->options.worldSize; r++) outputs[0].push_back(at::empty_like(inputs[0]));
  c10d::AllgatherOptions opts;
  opts.timeout = impl_->options.timeout;
  impl_->finish(impl_->backend->allgather(outputs, inputs, opts));
  std::vector<at::Tensor> result;
  for (auto& t : outputs[0]) result.push_back(t.scalar_type() == tensor.scalar_type() ? t : t.to(tensor.scalar_type()));
  return result;
}

void DistributedGroup::barrier() {
  c10d::BarrierOptions opts;
  opts.timeout = impl_->options.timeout;
  // nccl's barrier is an all-reduce on a GPU: name this rank's, or it guesses from the rank.
  if (impl_->options.device.is_cuda()) opts.device_ids = {impl_->options.device.has_index() ? impl_->options.device.index() : 0};
  impl_->finish(impl_->backend->barrier(opts));
}

void DistributedGroup::storeSet(const std::string& key, const std::string& value) {
  try {
    impl_->appStore->set(key, std::vector<uint8_t>(value.begin(), value.end()));
  } catch (const std::exception& e) {
    throw CommunicationError(describeException(e));
  }
}

std::string DistributedGroup::storeGet(const std::string& key, std::chrono::milliseconds timeout) {
  try {
    impl_->appStore->wait({key}, timeout);
    const auto bytes = impl_->appStore->get(key);
    return std::string(bytes.begin(), bytes.end());
  } catch (const std::exception& e) {
    throw CommunicationError(describeException(e));
  }
}

bool DistributedGroup::storeCheck(const std::string& key) {
  try {
    return impl_->appStore->check({key});
  } catch (const std::exception& e) {
    throw CommunicationError(describeException(e));
  }
}

#endif  // WORDLE_WITH_C10D

DistributedGroup::DistributedGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DistributedGroup::~DistributedGroup() = default;

}  // namespace wordle
