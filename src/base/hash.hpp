// Content hashes that detect change (not tampering): 64-bit FNV-1a over bytes
// and files, printed as 16 hex digits. Used for checkpoint fingerprints, model
// identities and the testbed caches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace modelgif {

// FNV-1a's 64-bit offset basis.
constexpr uint64_t kFnvOffset = 14695981039346656037ULL;

uint64_t fnv1a(const void* data, size_t n, uint64_t h = kFnvOffset);
inline uint64_t fnv1a(const std::string& s, uint64_t h = kFnvOffset) { return fnv1a(s.data(), s.size(), h); }
std::string hex64(uint64_t h);
// hex64 of the file's bytes; throws InputError naming the file when it cannot be read.
std::string hash_file(const std::string& path);

}  // namespace modelgif
