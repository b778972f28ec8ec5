// The table of live tensors. JavaScript never holds a C++ object: it holds a small integer id
// into this table. That keeps the per-op path lean (no JS wrapper object, no GC finaliser per
// result) and makes freeing explicit: the TypeScript scopes call release(). Not synchronised:
// each JavaScript thread (main or worker) has its own table (see tensors()) and only that thread
// touches it.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace wordle {

class TensorTable {
 public:
  int32_t put(at::Tensor t) {
    if (!free_.empty()) {
      const int32_t id = free_.back();
      free_.pop_back();
      slots_[id] = std::move(t);
      ++live_;
      return id;
    }
    slots_.push_back(std::move(t));
    ++live_;
    return static_cast<int32_t>(slots_.size() - 1);
  }

  const at::Tensor& get(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= slots_.size() || !slots_[id].defined()) {
      throw std::runtime_error("tensor handle " + std::to_string(id) + " is not live (it was disposed or never created)");
    }
    return slots_[id];
  }

  bool isLive(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < slots_.size() && slots_[id].defined();
  }

  void release(int32_t id) {
    if (!isLive(id)) return;  // double dispose is harmless
    slots_[id] = at::Tensor();
    free_.push_back(id);
    --live_;
  }

  size_t live() const { return live_; }

 private:
  std::vector<at::Tensor> slots_;
  std::vector<int32_t> free_;
  size_t live_ = 0;
};

TensorTable& tensors();

}  // namespace wordle
