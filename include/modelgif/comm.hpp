// MPI behind a small, checked, move-only interface, and the agreement on
// errors that keeps ranks from waiting for one that failed, and the programs'
// one-line failure reports. The run layer, the testbeds, the programs and
// the MPI tests include this header; the core does not.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace modelgif::comm {

// Throws CommError("MPI: <what> (rank r): <MPI's message>") on a failed call.
void check(int rc, const std::string& what);

// Initializes MPI once per process (singleton mode when not launched by
// mpirun/srun) and finalizes it at exit. Safe to call many times.
void ensure_initialized();

// A communicator handle: move-only; frees what it owns unless MPI is finalized
// or it is WORLD/SELF; the destructor never throws.
class Comm {
 public:
  static Comm world();
  Comm() = default;
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;
  Comm(Comm&& o) noexcept : c_(o.c_), owned_(o.owned_) { o.c_ = MPI_COMM_NULL, o.owned_ = false; }
  Comm& operator=(Comm&& o) noexcept;
  ~Comm();

  MPI_Comm get() const { return c_; }
  int rank() const;
  int size() const;
  Comm split(int color, int key) const;
  Comm split_shared() const;  // ranks on the same node

  void barrier() const;
  void allreduce_sum(double* data, size_t n) const;
  void allreduce_sum(std::vector<double>& v) const { allreduce_sum(v.data(), v.size()); }
  int64_t allreduce_max(int64_t v) const;
  void allreduce_max(std::vector<double>& v) const;  // small vectors
  int64_t allreduce_sum(int64_t v) const;
  std::string bcast(const std::string& s, int root = 0) const;
  int64_t bcast(int64_t v, int root = 0) const;
  void bcast(std::vector<double>& v, int root = 0) const;  // sizes must agree
  // Sends `bytes` bytes at `out` to `dest` and receives a buffer of any size from `source`.
  std::vector<char> sendrecv(const char* out, int64_t bytes, int dest, int source) const;
  std::vector<char> sendrecv(const std::vector<char>& out, int dest, int source) const {
    return sendrecv(out.data(), static_cast<int64_t>(out.size()), dest, source);
  }
  std::vector<std::string> allgather(const std::string& s) const;

 private:
  Comm(MPI_Comm c, bool owned) : c_(c), owned_(owned) {}
  void free() noexcept;
  MPI_Comm c_ = MPI_COMM_NULL;
  bool owned_ = false;
};

// Runs `fn` on every rank of `comm`; if it threw on any rank, every rank
// throws the error of the lowest failing rank (its kind and message, marked
// shared: rank 0 reports it), so that no rank is left waiting in a collective
// call. `fn` itself must not make collective calls that a failing rank skips.
void collective(const Comm& comm, const std::function<void()>& fn);

// Runs `fn` on rank 0 of `comm` alone (or here, when `comm` is null); what it
// throws, every rank of `comm` throws (shared).
void on_root(const Comm* comm, const std::function<void()>& fn);

// World rank and size without initializing MPI (0 and 1 when it is not).
int world_rank();
int world_size();
[[noreturn]] void abort_world(int code);

// A program's last word on a failure: prints the one line of any exception,
// "PROGRAM: error: ...", and returns its exit code. A shared error (every
// rank has it) is printed by world rank 0 alone; an error of one rank of
// several carries the rank and aborts the MPI job, whose other ranks may be
// waiting in a collective call.
int report_failure(const std::exception_ptr& error, const std::string& program, std::ostream& err);

std::string processor_name();
std::string library_version();

}  // namespace modelgif::comm
