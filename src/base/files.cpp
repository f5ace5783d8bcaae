#include "base/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "modelgif/error.hpp"

namespace fs = std::filesystem;

namespace modelgif {
namespace {

// fsync of a file or folder by path; returns errno (0 on success).
int sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errno;
  const int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc == EINVAL ? 0 : rc;  // some filesystems cannot sync folders
}

std::string parent_of(const std::string& path) {
  const fs::path p = fs::path(path).parent_path();
  return p.empty() ? std::string(".") : p.string();
}

}  // namespace

std::string temp_name(const std::string& path, long pid) { return path + ".tmp-" + std::to_string(pid); }

long current_pid() { return static_cast<long>(::getpid()); }

AtomicFile::AtomicFile(std::string path, long owner) : path_(std::move(path)), temp_(temp_name(path_, owner)) {}

AtomicFile::~AtomicFile() {
  if (done_) return;
  std::error_code ec;
  fs::remove(temp_, ec);  // a destructor never throws
}

void AtomicFile::discard() {
  std::error_code ec;
  fs::remove(temp_, ec);
  done_ = true;
}

void AtomicFile::commit() {
  if (const int err = sync_path(temp_, O_RDONLY))
    throw_input("cannot write " + path_ + ": flushing " + temp_ + " to disk failed: " + std::strerror(err));
  std::error_code ec;
  fs::rename(temp_, path_, ec);
  if (ec) throw_input("cannot write " + path_ + ": renaming " + temp_ + " into place failed: " + ec.message());
  done_ = true;
  sync_path(parent_of(path_), O_RDONLY | O_DIRECTORY);  // the rename itself on disk; best effort
}

void write_text_atomic(const std::string& path, const std::string& text) {
  write_bytes_atomic(path, text.data(), text.size());
}

void write_bytes_atomic(const std::string& path, const void* data, size_t size) {
  AtomicFile file(path);
  const int fd = ::open(file.temp().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_input("cannot write " + path + ": " + std::strerror(errno));
  const auto* p = static_cast<const char*>(data);
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, p + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      throw_input("cannot write " + path + ": " + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) throw_input("cannot write " + path + ": " + std::strerror(errno));
  file.commit();
}

void ensure_dir(const std::string& dir, const std::string& what) {
  if (dir.empty()) return;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return;
  fs::create_directories(dir, ec);
  if (ec) throw_input(what + ": cannot create folder " + dir + ": " + ec.message());
}

void ensure_parent_dir(const std::string& path, const std::string& what) {
  ensure_dir(fs::path(path).parent_path().string(), what);
}

void require_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found) throw_input(what + ": no such file " + path);
  if (ec) throw_input(what + ": cannot use " + path + ": " + ec.message());
  if (st.type() == fs::file_type::directory) throw_input(what + ": " + path + " is a folder, not a file");
  if (st.type() != fs::file_type::regular) throw_input(what + ": " + path + " is not a regular file");
}

namespace {

template <class E>
std::string read_whole(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw E(what + " " + path + ": cannot read the file (it is a folder)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw E(what + " " + path + ": cannot read the file (" + std::strerror(errno) + ")");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw E(what + " " + path + ": cannot read the file (" + std::strerror(errno) + ")");
  return ss.str();
}

}  // namespace

std::string read_text_file(const std::string& path, const std::string& what) {
  return read_whole<UsageError>(path, what);
}

std::string read_stored_text(const std::string& path, const std::string& what) {
  return read_whole<InputError>(path, what);
}

}  // namespace modelgif
