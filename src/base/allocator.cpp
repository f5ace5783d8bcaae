#include "base/allocator.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace modelgif {
namespace {

std::string set_up() {
#if defined(__GLIBC__)
  // The user's own settings win.
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) ||
      std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr)
    return "allocator: glibc malloc as set in the environment";
  constexpr int kMmapThreshold = 32 << 20;  // glibc's largest on 64-bit systems
  constexpr int kTrimThreshold = 1 << 30;
  if (mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1)
    return "allocator: glibc malloc keeps freed memory (blocks up to 32 MiB from the heap, trimmed above 1 GiB)";
  return "allocator: glibc malloc refused the settings (left as it was)";
#else
  return "allocator: not glibc (left as it was)";
#endif
}

}  // namespace

const std::string& keep_freed_memory() {
  static const std::string line = set_up();
  return line;
}

}  // namespace modelgif
