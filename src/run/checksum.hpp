// CRC-32 (zlib's) over any number of byte ranges: the checksum that every
// checkpoint file carries (field shards, pair caches) and that is checked
// before the file is trusted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace modelgif {

class Crc32 {
 public:
  Crc32& add(const void* data, size_t bytes);
  Crc32& add(const std::vector<double>& v) { return add(v.data(), v.size() * sizeof(double)); }
  Crc32& add(const std::vector<std::string>& lines);  // each followed by '\n'
  int64_t value() const { return static_cast<int64_t>(crc_); }

 private:
  unsigned long crc_ = 0;
};

}  // namespace modelgif
