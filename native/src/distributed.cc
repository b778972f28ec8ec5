// torch.distributed for JavaScript: process groups are small integer ids (like tensor handles) and
// collectives work on tensor handles, in place where torch's do. Every call is synchronous: it
// returns when the collective has finished on this rank (the trainer is synchronous too). A
// failure caused by the peers or the store throws an Error whose code is ERR_WORDLE_COMMUNICATION,
// so src/engine/distributed.ts can go and find out which rank is gone; bad arguments throw plain
// Errors. Nothing here aborts the process.
#include "distributed.h"

#include <cmath>
#include <memory>
#include <unordered_map>

#include "convert.h"
#include "distributed_group.h"
#include "errors.h"
#include "tensor_table.h"

namespace wordle {
namespace {

// The live groups of this JavaScript thread. Deliberately never destroyed at process exit: a
// group's destructor joins the backend's threads, which may be blocked on a dead or hung peer, and
// a process that is exiting must not wait for its peers.
struct GroupTable {
  std::unordered_map<int32_t, std::unique_ptr<DistributedGroup>> groups;
  int32_t nextId = 1;
};

GroupTable& groupTable() {
  thread_local auto* table = new GroupTable();
  return *table;
}

int32_t groupId(const Napi::Value& v) {
  if (!v.IsNumber()) throw ArgError("a process group id expected");
  return v.As<Napi::Number>().Int32Value();
}

DistributedGroup& groupOf(const Napi::Value& v) {
  const int32_t id = groupId(v);
  auto& groups = groupTable().groups;
  const auto it = groups.find(id);
  if (it == groups.end()) throw ArgError("process group " + std::to_string(id) + " is not live (destroyed, or never created)");
  return *it->second;
}

std::string stringArg(const Napi::Value& v, const std::string& what) {
  if (!v.IsString()) throw ArgError(what + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

int64_t integerArg(const Napi::Value& v, const std::string& what, int64_t min, int64_t max) {
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || d != std::floor(d)) {
    throw ArgError(what + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return static_cast<int64_t>(d);
}

ReduceKind reduceKindArg(const Napi::Value& v) {
  const std::string op = stringArg(v, "the reduce op");
  if (op == "sum") return ReduceKind::Sum;
  if (op == "max") return ReduceKind::Max;
  if (op == "min") return ReduceKind::Min;
  throw ArgError("unknown reduce op \"" + op + "\" (sum, max or min)");
}

std::vector<at::Tensor> tensorsArg(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw ArgError(std::string(what) + ": an array of Tensor handles expected");
  const auto arr = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(tensors().get(toId(arr.Get(i), what)));
  return out;
}

// Runs body, turning C++ exceptions into JavaScript errors named after `context`; communication
// failures carry code ERR_WORDLE_COMMUNICATION.
template <typename Body>
Napi::Value guarded(const Napi::CallbackInfo& info, const char* context, Body&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const CommunicationError& e) {
    auto error = Napi::Error::New(info.Env(), std::string(context) + ": " + e.what());
    error.Set("code", Napi::String::New(info.Env(), "ERR_WORDLE_COMMUNICATION"));
    throw error;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string(context) + ": " + describeException(e));
  }
}

}  // namespace

// distributedBackends() -> { gloo, nccl }: which backends this build has.
Napi::Value DistributedBackends(const Napi::CallbackInfo& info) {
  auto out = Napi::Object::New(info.Env());
  out.Set("gloo", backendCompiled("gloo"));
  out.Set("nccl", backendCompiled("nccl"));
  return out;
}

// distCreate({ backend, rank, worldSize, masterAddr, masterPort, timeoutMs, device }) -> group id.
// Blocks until every rank joined the store and the backend connected them, or the timeout ran out.
Napi::Value DistCreate(const Napi::CallbackInfo& info) {
  return guarded(info, "process group", [&]() -> Napi::Value {
    if (!info[0].IsObject()) throw ArgError("options object expected");
    const auto o = info[0].As<Napi::Object>();
    GroupOptions options;
    options.backend = stringArg(o.Get("backend"), "backend");
    options.worldSize = static_cast<int>(integerArg(o.Get("worldSize"), "worldSize", 1, 1 << 20));
    options.rank = static_cast<int>(integerArg(o.Get("rank"), "rank", 0, options.worldSize - 1));
    options.masterAddr = stringArg(o.Get("masterAddr"), "masterAddr");
    options.masterPort = static_cast<uint16_t>(integerArg(o.Get("masterPort"), "masterPort", 1, 65535));
    options.timeout = std::chrono::milliseconds(integerArg(o.Get("timeoutMs"), "timeoutMs", 1, int64_t{1} << 40));
    options.device = parseDevice(stringArg(o.Get("device"), "device"));
    auto group = DistributedGroup::create(options);
    auto& table = groupTable();
    const int32_t id = table.nextId++;
    table.groups.emplace(id, std::move(group));
    return Napi::Number::New(info.Env(), id);
  });
}

// distAllReduce(group, tensor, op): in place.
Napi::Value DistAllReduce(const Napi::CallbackInfo& info) {
  return guarded(info, "allReduce", [&]() -> Napi::Value {
    auto& group = groupOf(info[0]);
    group.allReduce(tensors().get(toId(info[1], "allReduce")), reduceKindArg(info[2]));
    return info.Env().Undefined();
  });
}

// distAllReduceFlat(group, tensors[], op): in place, as one flat buffer and one collective.
Napi::Value DistAllReduceFlat(const Napi::CallbackInfo& info) {
  return guarded(info, "allReduceFlat", [&]() -> Napi::Value {
    auto& group = groupOf(info[0]);
    group.allReduceFlat(tensorsArg(info[1], "allReduceFlat"), reduceKindArg(info[2]));
    return info.Env().Undefined();
  });
}

// distBroadcast(group, tensor, root): in place; every rank ends with root's values.
Napi::Value DistBroadcast(const Napi::CallbackInfo& info) {
  return guarded(info, "broadcast", [&]() -> Napi::Value {
    auto& group = groupOf(info[0]);
    const auto root = static_cast<int>(integerArg(info[2], "root", 0, 1 << 20));
    group.broadcast(tensors().get(toId(info[1], "broadcast")), root);
    return info.Env().Undefined();
  });
}

// distAllGather(group, tensor) -> ids of every rank's tensor, in rank order.
Napi::Value DistAllGather(const Napi::CallbackInfo& info) {
  return guarded(info, "allGather", [&]() -> Napi::Value {
    auto& group = groupOf(info[0]);
    auto gathered = group.allGather(tensors().get(toId(info[1], "allGather")));
    auto out = Napi::Array::New(info.Env(), gathered.size());
    for (uint32_t i = 0; i < gathered.size(); i++) out.Set(i, Napi::Number::New(info.Env(), tensors().put(std::move(gathered[i]))));
    return out;
  });
}

Napi::Value DistBarrier(const Napi::CallbackInfo& info) {
  return guarded(info, "barrier", [&]() -> Napi::Value {
    groupOf(info[0]).barrier();
    return info.Env().Undefined();
  });
}

// distStoreSet(group, key, value): a small UTF-8 string in the group's store.
Napi::Value DistStoreSet(const Napi::CallbackInfo& info) {
  return guarded(info, "store set", [&]() -> Napi::Value {
    groupOf(info[0]).storeSet(stringArg(info[1], "key"), stringArg(info[2], "value"));
    return info.Env().Undefined();
  });
}

// distStoreGet(group, key, timeoutMs) -> the value, once some rank has set it.
Napi::Value DistStoreGet(const Napi::CallbackInfo& info) {
  return guarded(info, "store get", [&]() -> Napi::Value {
    auto& group = groupOf(info[0]);
    const auto timeout = std::chrono::milliseconds(integerArg(info[2], "timeoutMs", 1, int64_t{1} << 40));
    return Napi::String::New(info.Env(), group.storeGet(stringArg(info[1], "key"), timeout));
  });
}

// distStoreCheck(group, key) -> whether the key is set; throws when the store does not answer.
Napi::Value DistStoreCheck(const Napi::CallbackInfo& info) {
  return guarded(info, "store check", [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), groupOf(info[0]).storeCheck(stringArg(info[1], "key")));
  });
}

// distDestroy(group): leaves the group (rank 0 stops serving the store). Unknown ids are ignored,
// so destroying twice is harmless.
Napi::Value DistDestroy(const Napi::CallbackInfo& info) {
  return guarded(info, "destroy", [&]() -> Napi::Value {
    groupTable().groups.erase(groupId(info[0]));
    return info.Env().Undefined();
  });
}

}  // namespace wordle
