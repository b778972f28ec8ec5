// Every exported function runs inside WORDLE_TRY / WORDLE_CATCH so that a libtorch error (c10::Error)
// or any C++ exception becomes a JavaScript exception instead of terminating the process.
#pragma once

#include <c10/util/Exception.h>
#include <napi.h>

#include <sstream>
#include <string>

namespace wordle {

// Thrown by argument checks; carries a message meant for the JavaScript caller.
struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline std::string describeException(const std::exception& e) {
  if (const auto* ce = dynamic_cast<const c10::Error*>(&e)) return ce->what_without_backtrace();
  return e.what();
}

}  // namespace wordle

#define WORDLE_TRY try {
#define WORDLE_CATCH(context)                                                                \
  }                                                                                          \
  catch (const Napi::Error& e) {                                                             \
    throw;                                                                                   \
  }                                                                                          \
  catch (const std::exception& e) {                                                          \
    throw Napi::Error::New(info.Env(), std::string(context) + ": " + ::wordle::describeException(e)); \
  }
