#include "run/lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <vector>

#include "base/files.hpp"
#include "modelgif/error.hpp"
#include "run/store.hpp"

namespace fs = std::filesystem;

namespace modelgif {
namespace {

std::string lock_path(const std::string& ckpt_dir) { return ckpt_dir + "/LOCK"; }

// F_OFD_SETLK / F_OFD_GETLK where the kernel has them, else the POSIX ones.
int lock_call(int fd, int ofd_cmd, int posix_cmd, struct flock* fl) {
  const int rc = ::fcntl(fd, ofd_cmd, fl);
  if (rc == 0 || errno != EINVAL) return rc;
  fl->l_pid = 0;
  return ::fcntl(fd, posix_cmd, fl);
}

struct flock whole_file(short type) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  return fl;
}

std::string holder_text(int fd) {
  char buf[512];
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string s(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "an unknown run" : s;
}

std::string now_text() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::vector<fs::path> temporaries_of(const std::string& output_path) {
  std::vector<fs::path> found;
  std::error_code ec;
  const fs::path out(output_path);
  const fs::path folder = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  const std::string prefix = out.filename().string() + ".tmp-";
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().rfind(prefix, 0) == 0) found.push_back(it->path());
  ec.clear();
  for (fs::recursive_directory_iterator it(CheckpointStore::dir_for(output_path), ec), end; !ec && it != end;
       it.increment(ec))
    if (it->path().filename().string().find(".tmp-") != std::string::npos) found.push_back(it->path());
  return found;
}

}  // namespace

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_, other.fd_ = -1;
  }
  return *this;
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the description releases the lock
}

RunLock RunLock::take(const std::string& ckpt_dir) {
  ensure_dir(ckpt_dir, "checkpoint");
  const std::string path = lock_path(ckpt_dir);
  RunLock lock;
  lock.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock.fd_ < 0)
    throw_input("checkpoint " + ckpt_dir + ": cannot open its lock " + path + ": " + std::strerror(errno));
  struct flock fl = whole_file(F_WRLCK);
  if (lock_call(lock.fd_, F_OFD_SETLK, F_SETLK, &fl) != 0) {
    const int err = errno;
    if (err == EACCES || err == EAGAIN)
      throw_input("output " + ckpt_dir.substr(0, ckpt_dir.size() - 5) + " is in use by another run (" +
                  holder_text(lock.fd_) + "); wait for it to end or stop it: its lock is released when it exits");
    throw_input("checkpoint " + ckpt_dir + ": cannot lock " + path + " (" + std::strerror(err) +
                "); the folder must be on a file system with POSIX locks");
  }
  char host[256] = "unknown host";
  ::gethostname(host, sizeof host - 1);
  const std::string text =
      "host " + std::string(host) + ", pid " + std::to_string(::getpid()) + ", since " + now_text() + "\n";
  if (::ftruncate(lock.fd_, 0) != 0 ||
      ::pwrite(lock.fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    throw_input("checkpoint " + ckpt_dir + ": cannot write its lock " + path + ": " + std::strerror(errno));
  return lock;
}

std::string lock_holder(const std::string& ckpt_dir) {
  const int fd = ::open(lock_path(ckpt_dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  struct flock fl = whole_file(F_WRLCK);
  std::string holder;
  // A read-only description can ask whether a write lock would conflict.
  if (lock_call(fd, F_OFD_GETLK, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) holder = holder_text(fd);
  ::close(fd);
  return holder;
}

namespace {

Temporaries sweep_temporaries(const std::string& output_path, bool remove) {
  Temporaries t;
  for (const auto& p : temporaries_of(output_path)) {
    std::error_code ec;
    const auto size = fs::file_size(p, ec);
    if (remove && !fs::remove(p, ec)) continue;
    ++t.count, t.bytes += ec ? 0 : static_cast<int64_t>(size);
  }
  return t;
}

}  // namespace

Temporaries find_temporaries(const std::string& output_path) { return sweep_temporaries(output_path, false); }

Temporaries remove_temporaries(const std::string& output_path) { return sweep_temporaries(output_path, true); }

}  // namespace modelgif
