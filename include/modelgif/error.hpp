// One error hierarchy for the whole project. Every message has the shape
// "<what was being done>: <what happened>" and names the object at fault
// (file, model, config key, shape). The kind of an error fixes its exit code;
// the CLI catches at the top, prints one line and exits with it.
//
// Under MPI an error is either seen by one rank only (it is printed with that
// rank and the job is aborted, since other ranks may wait in a collective), or
// *shared*: every rank holds it (all parsed the same config, or the ranks
// agreed on it with comm::collective), so rank 0 alone reports it and every
// rank exits normally. "Shared" is a flag on the error, not a kind.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace modelgif {

// Process exit codes (documented in docs/checkpoints.md, "Errors and exit codes").
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,      // a bug in modelgif (or an unexpected library failure)
  kExitUsage = 2,         // bad command line or config
  kExitInput = 3,         // unusable model, reference set, checkpoint or output
  kExitNumeric = 4,       // NaN/Inf in a field
  kExitDifferent = 5,     // `compare`: the two results differ beyond the tolerance
  kExitCheckFailed = 6,   // `demo`: the derived-vs-independent check failed
  kExitComm = 7,          // MPI failed (a rank or the network went away)
  kExitCheckpointed = 75  // stopped on a signal after checkpointing: resume me
};

class Error : public std::runtime_error {
 public:
  Error(const std::string& what, int exit_code) : std::runtime_error(what), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }
  // Every rank holds this error: rank 0 reports it, no rank aborts the others.
  bool shared() const noexcept { return shared_; }
  void set_shared() noexcept { shared_ = true; }

 private:
  int exit_code_;
  bool shared_ = false;
};

// Wrong command line, unknown/ill-typed config key, bad option value.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what, kExitUsage) {}
};

// A model, reference source, checkpoint or output that cannot be used.
class InputError : public Error {
 public:
  explicit InputError(const std::string& what) : Error(what, kExitInput) {}
};

// A device (or the host) that cannot hold a micro-batch: an InputError for
// the user (lower run.max_points), and the size tuning backs off from.
class OutOfMemory : public InputError {
 public:
  using InputError::InputError;
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

// A failed MPI call.
class CommError : public Error {
 public:
  explicit CommError(const std::string& what) : Error(what, kExitComm) {}
};

// A broken invariant: a bug in modelgif, never the user's input.
class InternalError : public Error {
 public:
  explicit InternalError(const std::string& what) : Error("internal error: " + what, kExitInternal) {}
};

// The run stopped on SIGTERM/SIGUSR1 after checkpointing its finished work.
class CheckpointedStop : public Error {
 public:
  explicit CheckpointedStop(const std::string& what) : Error(what, kExitCheckpointed) {}
};

[[noreturn]] inline void throw_usage(const std::string& what) { throw UsageError(what); }
[[noreturn]] inline void throw_input(const std::string& what) { throw InputError(what); }
[[noreturn]] inline void throw_internal(const std::string& what) { throw InternalError(what); }

// Throws the error of kind `exit_code` (as its class), marked shared: how an
// error that one rank raised is raised again on every rank.
[[noreturn]] void throw_shared(int exit_code, const std::string& what);
template <class E>
[[noreturn]] void throw_shared(E error) {
  error.set_shared();
  throw error;
}

// What the CLI prints and returns for any exception: a modelgif Error as it
// is; a filesystem error as an input error naming its path; out of memory; any
// other exception (a LibTorch or library failure that no caller turned into
// one of ours) as an internal error with its informative line.
struct ErrorReport {
  int exit_code = kExitInternal;
  std::string message;
  bool shared = false;
};
ErrorReport report_of(const std::exception_ptr& error);

// The informative line of a LibTorch error: for TorchScript failures the
// interpreter's last "SomethingError: ..." line (RuntimeError, IndexError, ...),
// without its type when it is a RuntimeError; else the first non-empty line
// (never the C++ backtrace).
std::string error_line(const std::string& what);

}  // namespace modelgif
