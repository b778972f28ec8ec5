// A torch.distributed (c10d) process group: a TCPStore that every rank joins (rank 0 serves it)
// and a collective backend over it: gloo for CPU tensors, nccl for CUDA tensors where libtorch has
// it. Plain C++ with no N-API: distributed.cc exposes it to JavaScript. The c10d headers stay in
// distributed_group.cc, so nothing else needs USE_C10D_GLOO / USE_C10D_NCCL.
//
// Every operation is synchronous: it returns when the collective has finished on this rank, or
// throws once it failed or the group's timeout ran out. Failures of the peers or of the store
// throw CommunicationError; bad arguments throw ArgError.
#pragma once

#include <ATen/ATen.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace wordle {

// A collective or a store operation failed because of the other side (a rank died or hangs, the
// store is unreachable): the caller may want to find out which rank is gone.
struct CommunicationError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class ReduceKind { Sum, Max, Min };

struct GroupOptions {
  std::string backend;  // "gloo" or "nccl"
  int rank = 0;
  int worldSize = 1;
  std::string masterAddr;
  uint16_t masterPort = 0;
  std::chrono::milliseconds timeout{0};
  c10::Device device{c10::kCPU};  // nccl: the rank's GPU
};

// Whether this addon was compiled with the backend ("gloo" or "nccl").
bool backendCompiled(const std::string& backend);

class DistributedGroup {
 public:
  // Joins the store and forms the group; blocks until every rank arrived or the timeout ran out.
  static std::unique_ptr<DistributedGroup> create(const GroupOptions& options);
  ~DistributedGroup();
  DistributedGroup(const DistributedGroup&) = delete;
  DistributedGroup& operator=(const DistributedGroup&) = delete;

  void allReduce(const at::Tensor& tensor, ReduceKind op);
  // The tensors (one dtype, one device) as one flat buffer, one collective, copied back.
  void allReduceFlat(const std::vector<at::Tensor>& tensors, ReduceKind op);
  void broadcast(const at::Tensor& tensor, int root);
  // Every rank's tensor (same shape on every rank), in rank order.
  std::vector<at::Tensor> allGather(const at::Tensor& tensor);
  void barrier();

  // Small values in the group's store, apart from the backend's own keys.
  void storeSet(const std::string& key, const std::string& value);
  // Waits up to `timeout` for the key to be set.
  std::string storeGet(const std::string& key, std::chrono::milliseconds timeout);
  // Whether the key is set; one round trip, so it also tells whether the store still answers.
  bool storeCheck(const std::string& key);

  struct Impl;

 private:
  explicit DistributedGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wordle
