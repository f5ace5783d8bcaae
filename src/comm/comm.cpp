#include "modelgif/comm.hpp"

#include <algorithm>
#include <cstdlib>
#include <ostream>

#include "modelgif/error.hpp"

namespace modelgif::comm {
namespace {

bool finalized() {
  int f = 0;
  MPI_Finalized(&f);
  return f != 0;
}

struct Finalizer {
  ~Finalizer() {
    int init = 0;
    MPI_Initialized(&init);
    if (init && !finalized()) MPI_Finalize();
  }
};

}  // namespace

void check(int rc, const std::string& what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  int rank = -1;
  if (!finalized()) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  throw CommError("MPI: " + what + " (rank " + std::to_string(rank) +
                  "): " + std::string(msg, static_cast<size_t>(len)));
}

void ensure_initialized() {
  int init = 0;
  MPI_Initialized(&init);
  if (init) return;
  if (finalized()) throw_internal("MPI is already finalized in this process");
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "initializing");
  // Errors come back as codes, which check() turns into exceptions.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  static Finalizer finalizer;
}

Comm Comm::world() {
  ensure_initialized();
  return Comm(MPI_COMM_WORLD, false);
}

Comm& Comm::operator=(Comm&& o) noexcept {
  if (this != &o) {
    free();
    c_ = o.c_, owned_ = o.owned_;
    o.c_ = MPI_COMM_NULL, o.owned_ = false;
  }
  return *this;
}

void Comm::free() noexcept {
  if (owned_ && c_ != MPI_COMM_NULL && !finalized()) MPI_Comm_free(&c_);
  c_ = MPI_COMM_NULL, owned_ = false;
}

Comm::~Comm() { free(); }

int Comm::rank() const {
  int r = 0;
  check(MPI_Comm_rank(c_, &r), "getting the rank");
  return r;
}

int Comm::size() const {
  int s = 0;
  check(MPI_Comm_size(c_, &s), "getting the size");
  return s;
}

Comm Comm::split(int color, int key) const {
  MPI_Comm out = MPI_COMM_NULL;
  check(MPI_Comm_split(c_, color, key, &out), "splitting a communicator");
  return Comm(out, true);
}

Comm Comm::split_shared() const {
  MPI_Comm out = MPI_COMM_NULL;
  check(MPI_Comm_split_type(c_, MPI_COMM_TYPE_SHARED, rank(), MPI_INFO_NULL, &out), "finding node-local ranks");
  return Comm(out, true);
}

void Comm::barrier() const { check(MPI_Barrier(c_), "waiting at a barrier"); }

void Comm::allreduce_sum(double* data, size_t n) const {
  // In pieces: MPI counts are int.
  const size_t chunk = size_t{1} << 28;
  for (size_t off = 0; off < n; off += chunk)
    check(MPI_Allreduce(MPI_IN_PLACE, data + off, static_cast<int>(std::min(chunk, n - off)), MPI_DOUBLE, MPI_SUM, c_),
          "summing partial results");
}

int64_t Comm::allreduce_max(int64_t v) const {
  int64_t out = 0;
  check(MPI_Allreduce(&v, &out, 1, MPI_INT64_T, MPI_MAX, c_), "reducing a maximum");
  return out;
}

void Comm::allreduce_max(std::vector<double>& v) const {
  check(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_MAX, c_), "reducing maxima");
}

int64_t Comm::allreduce_sum(int64_t v) const {
  int64_t out = 0;
  check(MPI_Allreduce(&v, &out, 1, MPI_INT64_T, MPI_SUM, c_), "reducing a sum");
  return out;
}

std::string Comm::bcast(const std::string& s, int root) const {
  int64_t n = bcast(static_cast<int64_t>(s.size()), root);
  std::string out = rank() == root ? s : std::string(static_cast<size_t>(n), '\0');
  if (n > 0) check(MPI_Bcast(out.data(), static_cast<int>(n), MPI_CHAR, root, c_), "broadcasting text");
  return out;
}

int64_t Comm::bcast(int64_t v, int root) const {
  check(MPI_Bcast(&v, 1, MPI_INT64_T, root, c_), "broadcasting a value");
  return v;
}

void Comm::bcast(std::vector<double>& v, int root) const {
  if (!v.empty()) check(MPI_Bcast(v.data(), static_cast<int>(v.size()), MPI_DOUBLE, root, c_), "broadcasting values");
}

std::vector<char> Comm::sendrecv(const char* out, int64_t bytes, int dest, int source) const {
  int64_t n_out = bytes, n_in = 0;
  check(MPI_Sendrecv(&n_out, 1, MPI_INT64_T, dest, 1, &n_in, 1, MPI_INT64_T, source, 1, c_, MPI_STATUS_IGNORE),
        "exchanging sizes");
  std::vector<char> in(static_cast<size_t>(n_in));
  // Large buffers go in int-sized pieces.
  const int64_t chunk = int64_t{1} << 30;
  for (int64_t off = 0; off < std::max(n_out, n_in); off += chunk) {
    const int so = static_cast<int>(std::max<int64_t>(0, std::min(chunk, n_out - off)));
    const int si = static_cast<int>(std::max<int64_t>(0, std::min(chunk, n_in - off)));
    check(MPI_Sendrecv(so ? out + off : nullptr, so, MPI_CHAR, dest, 2, si ? in.data() + off : nullptr, si, MPI_CHAR,
                       source, 2, c_, MPI_STATUS_IGNORE),
          "exchanging fields");
  }
  return in;
}

std::vector<std::string> Comm::allgather(const std::string& s) const {
  const int n = size();
  int len = static_cast<int>(s.size());
  std::vector<int> lens(static_cast<size_t>(n)), displs(static_cast<size_t>(n));
  check(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, c_), "gathering sizes");
  int total = 0;
  for (int i = 0; i < n; ++i) displs[static_cast<size_t>(i)] = total, total += lens[static_cast<size_t>(i)];
  std::string all(static_cast<size_t>(total), '\0');
  check(MPI_Allgatherv(s.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, c_),
        "gathering text");
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back(all.substr(static_cast<size_t>(displs[static_cast<size_t>(i)]),
                             static_cast<size_t>(lens[static_cast<size_t>(i)])));
  return out;
}

void collective(const Comm& comm, const std::function<void()>& fn) {
  ErrorReport failure;
  bool failed = false;
  try {
    fn();
  } catch (...) {
    failure = report_of(std::current_exception());
    failed = true;
  }
  if (comm.allreduce_max(failed ? 1 : 0) == 0) return;
  for (const auto& f : comm.allgather(failed ? std::to_string(failure.exit_code) + "|" + failure.message : "")) {
    if (f.empty()) continue;
    const auto bar = f.find('|');
    throw_shared(std::stoi(f.substr(0, bar)), f.substr(bar + 1));
  }
}

void on_root(const Comm* comm, const std::function<void()>& fn) {
  if (!comm) return fn();
  collective(*comm, [&] {
    if (comm->rank() == 0) fn();
  });
}

int world_rank() {
  int init = 0, r = 0;
  MPI_Initialized(&init);
  if (init && !finalized()) MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int world_size() {
  int init = 0, s = 1;
  MPI_Initialized(&init);
  if (init && !finalized()) MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

void abort_world(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

int report_failure(const std::exception_ptr& error, const std::string& program, std::ostream& err) {
  const ErrorReport r = report_of(error);
  if (r.shared) {  // every rank has it: rank 0 reports
    if (world_rank() == 0) err << program << ": error: " << r.message << "\n";
    return r.exit_code;
  }
  if (world_size() > 1) {
    // Raised on one rank only: report it with the rank and stop the whole job
    // (other ranks may be waiting in a collective call).
    err << program << ": error (rank " << world_rank() << "): " << r.message << "\n" << std::flush;
    abort_world(r.exit_code);
  }
  err << program << ": error: " << r.message << "\n";
  return r.exit_code;
}

std::string processor_name() {
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  MPI_Get_processor_name(name, &len);
  return std::string(name, static_cast<size_t>(len));
}

std::string library_version() {
  char v[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(v, &len);
  std::string s(v, static_cast<size_t>(len));
  const auto comma = s.find(',');
  return comma == std::string::npos ? s : s.substr(0, comma);
}

}  // namespace modelgif::comm
