#include "run/checksum.hpp"

#include <zlib.h>

#include <algorithm>

namespace modelgif {

Crc32& Crc32::add(const void* data, size_t bytes) {
  const auto* b = static_cast<const Bytef*>(data);
  constexpr size_t kPiece = size_t{1} << 30;  // zlib takes 32-bit lengths
  for (size_t off = 0; off < bytes; off += kPiece)
    crc_ = crc32(crc_, b + off, static_cast<uInt>(std::min(bytes - off, kPiece)));
  return *this;
}

Crc32& Crc32::add(const std::vector<std::string>& lines) {
  for (const auto& l : lines) add(l.data(), l.size()).add("\n", 1);
  return *this;
}

}  // namespace modelgif
