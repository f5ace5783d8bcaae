// One error hierarchy for the whole project. Every message has the shape
// "<what was being done>: <what happened>" and names the object at fault
// (file, model, config key, shape). The CLI catches at the top, prints one
// line and exits with the code of the error's kind.
#pragma once

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string>

namespace modelgif {

// Process exit codes (documented in README "Exit codes").
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // internal or unexpected error
  kExitUsage = 2,        // bad command line or config
  kExitInput = 3,        // unreadable / unfit model, reference set or output
  kExitNumeric = 4,      // NaN/Inf in a field
  kExitCheckpointed = 75 // stopped on a signal after checkpointing: resume me
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, int exit_code = kExitFailure)
      : std::runtime_error(what), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

// Wrong command line, unknown/ill-typed config key, bad option value.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what, kExitUsage) {}
};

// A model, reference source or output that cannot be used.
class InputError : public Error {
 public:
  explicit InputError(const std::string& what) : Error(what, kExitInput) {}
};

// A field with NaN or Inf.
class NumericError : public Error {
 public:
  explicit NumericError(const std::string& what) : Error(what, kExitNumeric) {}
};

// HDF5 failures; carries HDF5's own error stack in the message.
class StoreError : public Error {
 public:
  explicit StoreError(const std::string& what) : Error(what, kExitInput) {}
};

// An error that every MPI rank raised together (agreed on collectively), so
// rank 0 alone reports it and no rank needs to abort the others.
class SharedError : public Error {
 public:
  SharedError(const std::string& what, int exit_code) : Error(what, exit_code) {}
};

[[noreturn]] inline void throw_usage(const std::string& what) { throw UsageError(what); }
[[noreturn]] inline void throw_input(const std::string& what) { throw InputError(what); }

// The informative line of a LibTorch error: for TorchScript failures the
// interpreter's last "SomethingError: ..." line (RuntimeError, IndexError, ...),
// without its type when it is a RuntimeError; else the first non-empty line
// (never the C++ backtrace).
inline std::string error_line(const std::string& what) {
  std::string found, first;
  size_t pos = 0;
  while (pos <= what.size()) {
    const size_t nl = std::min(what.find('\n', pos), what.size());
    std::string line = what.substr(pos, nl - pos);
    line.erase(0, line.find_first_not_of(' '));
    const size_t colon = line.find("Error: ");
    bool typed = colon != std::string::npos && colon > 0;
    for (size_t i = 0; typed && i < colon; ++i) typed = std::isalnum(static_cast<unsigned char>(line[i])) != 0;
    if (typed) found = line.rfind("RuntimeError: ", 0) == 0 ? line.substr(14) : line;
    if (first.empty()) first = line;
    pos = nl + 1;
  }
  const std::string& s = found.empty() ? first : found;
  return s.empty() ? "unknown error" : s;
}

}  // namespace modelgif
