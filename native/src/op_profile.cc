// An engine op counter: how many ATen operators the process issues, by name, and the wall time
// spent in them. It hooks libtorch's RecordFunction callbacks (the mechanism behind
// torch.profiler), so it sees every operator whoever issues it: JavaScript through callOp, the
// native fused paths, and autograd's backward nodes. Only top-level calls are counted (an
// aten::linear that calls aten::matmul that calls aten::mm counts once), which is the number of
// separate operations a caller asked for: the figure CUDA graphs and fused kernels reduce.
// Off by default (a registered callback costs every operator a little).
#include "op_profile.h"

#include <ATen/record_function.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "errors.h"

namespace wordle {
namespace {

struct OpTotals {
  double count = 0;
  double seconds = 0;
};

std::mutex statsMutex;
std::map<std::string, OpTotals> stats;
bool active = false;
at::CallbackHandle handle = 0;
thread_local int depth = 0;

struct StartTime : at::ObserverContext {
  std::chrono::steady_clock::time_point at;
};

std::unique_ptr<at::ObserverContext> onStart(const at::RecordFunction&) {
  if (depth++ != 0) return nullptr;
  auto ctx = std::make_unique<StartTime>();
  ctx->at = std::chrono::steady_clock::now();
  return ctx;
}

void onEnd(const at::RecordFunction& fn, at::ObserverContext* ctx) {
  --depth;
  if (ctx == nullptr) return;
  const auto elapsed = std::chrono::steady_clock::now() - static_cast<StartTime*>(ctx)->at;
  std::lock_guard<std::mutex> lock(statsMutex);
  auto& entry = stats[fn.name()];
  entry.count += 1;
  entry.seconds += std::chrono::duration<double>(elapsed).count();
}

}  // namespace

// opProfile(on: boolean): starts (clearing the totals) or stops counting.
Napi::Value OpProfile(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  const bool on = info[0].ToBoolean().Value();
  if (on && !active) {
    {
      std::lock_guard<std::mutex> lock(statsMutex);
      stats.clear();
    }
    handle = at::addGlobalCallback(at::RecordFunctionCallback(onStart, onEnd)
                                       .needsInputs(false)
                                       .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION}));
    active = true;
  } else if (!on && active) {
    at::removeCallback(handle);
    active = false;
  }
  return info.Env().Undefined();
  WORDLE_CATCH("opProfile")
}

// opProfileTotals() -> { [opName]: [count, seconds] } since the counter was started.
Napi::Value OpProfileTotals(const Napi::CallbackInfo& info) {
  WORDLE_TRY
  auto out = Napi::Object::New(info.Env());
  std::lock_guard<std::mutex> lock(statsMutex);
  for (const auto& [name, totals] : stats) {
    auto pair = Napi::Array::New(info.Env(), 2);
    pair.Set(0u, totals.count);
    pair.Set(1u, totals.seconds);
    out.Set(name, pair);
  }
  return out;
  WORDLE_CATCH("opProfileTotals")
}

}  // namespace wordle
