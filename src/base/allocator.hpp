// The process's memory allocator, set up for the field loop. glibc's malloc
// gives large freed blocks back to the kernel (munmap, or trimming the top of
// the heap) and maps them again at the next allocation, so every micro-batch's
// activations cost page faults and zeroed pages: measured here, the published
// loop's shape (100 path points per batch) ran 1.6x slower on a 3-convolution
// CNN for that alone. keep_freed_memory() makes malloc keep freed memory for
// reuse instead (blocks up to 32 MiB come from the heap, which is not trimmed
// below 1 GiB); the peak stays what the run needs.
#pragma once

#include <string>

namespace modelgif {

// Returns a line for the log: what was set, or why nothing was (the user set
// glibc's malloc tunables, or the C library is not glibc). The first call
// sets up the allocator (call it at the start of the process); later calls
// return the same line.
const std::string& keep_freed_memory();

}  // namespace modelgif
