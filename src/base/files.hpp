// Files as modelgif writes and reads them. Every file the program writes
// appears complete or not at all: its bytes go to a temporary name unique to
// the writing process (PATH.tmp-PID), are flushed to disk (fsync) and renamed
// into place, so a crash, a full disk or a signal leaves at most a temporary,
// never a half-written PATH. Failures are InputErrors naming the file.
#pragma once

#include <string>

namespace modelgif {

// "PATH.tmp-PID": the temporary name of PATH for the process `pid`.
std::string temp_name(const std::string& path, long pid);
long current_pid();

// One file being written under its temporary name. The writer (an HDF5
// library, TorchScript's save, a stream) creates temp(); commit() syncs it
// and renames it to path(). Unless committed or released, the temporary is
// removed on destruction.
class AtomicFile {
 public:
  // `owner`: the process whose pid names the temporary (parallel writers share
  // the committing rank's).
  explicit AtomicFile(std::string path, long owner = current_pid());
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  const std::string& path() const { return path_; }
  const std::string& temp() const { return temp_; }
  // fsync the temporary, rename it over path() and sync the folder.
  void commit();
  // Another process commits (or removes) the temporary: leave it alone.
  void release() { done_ = true; }
  // Removes the temporary now (a failed write).
  void discard();

 private:
  std::string path_, temp_;
  bool done_ = false;
};

// Writes `text` (or `size` bytes) to `path` atomically (the folder must exist).
void write_text_atomic(const std::string& path, const std::string& text);
void write_bytes_atomic(const std::string& path, const void* data, size_t size);

// Creates `dir` and its parents when missing; `what` says what it is for in
// the error ("output", "checkpoint", ...).
void ensure_dir(const std::string& dir, const std::string& what);
// The parent folder of `path` (when it has one), created when missing.
void ensure_parent_dir(const std::string& path, const std::string& what);

// Throws InputError "WHAT: no such file PATH" (or why it cannot be used: a
// folder, a loop of links) unless `path` is a regular file.
void require_file(const std::string& path, const std::string& what);

// The whole text of a file the user names (configs, sweeps, roles). Throws
// UsageError "WHAT PATH: cannot read the file (reason)", with "it is a folder"
// for a folder.
std::string read_text_file(const std::string& path, const std::string& what);
// The same for a file the program itself wrote (a cache stamp, a transfer
// row): an unreadable one is an InputError.
std::string read_stored_text(const std::string& path, const std::string& what);

}  // namespace modelgif
