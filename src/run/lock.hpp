// One run at a time on an output: an exclusive lock on OUT.ckpt/LOCK, taken
// by rank 0 before any work and held until the run ends. It is an
// open-file-description lock (fcntl F_OFD_SETLK, POSIX record locks where the
// kernel lacks them): NFS and Lustre honour it, and the kernel releases it
// when the holder exits or dies, so a killed run never leaves a stale lock.
// The file names its holder (host, pid, since) for the message a second run gets.
#pragma once

#include <cstdint>
#include <string>

namespace modelgif {

class RunLock {
 public:
  RunLock() = default;
  // Takes the lock of the checkpoint folder `ckpt_dir` (created when missing).
  // Throws InputError naming the holder when another run holds it.
  static RunLock take(const std::string& ckpt_dir);
  RunLock(RunLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();  // releases the lock
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// "host H, pid P, since T" of the run holding `ckpt_dir`'s lock, or "" when it is free.
std::string lock_holder(const std::string& ckpt_dir);

// Temporaries (*.tmp-PID) that interrupted runs left beside the output and in
// its checkpoint. Only the holder of the lock may remove them: no other run
// can be writing them.
struct Temporaries {
  int64_t count = 0, bytes = 0;
};
Temporaries find_temporaries(const std::string& output_path);
Temporaries remove_temporaries(const std::string& output_path);

}  // namespace modelgif
