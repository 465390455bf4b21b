// Reading members of a zip archive held in memory (a mapped .npz file): the central directory,
// zip64 sizes and offsets as Python's zipfile writes them (numpy forces zip64 for every member),
// stored and deflated members. Multi-disk archives, encryption and other methods are refused.
// Every offset and size is checked against the archive before it is used.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cuae::data {

struct ZipMember {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflate
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;
  uint64_t data_offset = 0;  // of the member's (compressed) bytes in the archive
};

// The members listed in the central directory. `name` is the archive's path, for messages.
std::vector<ZipMember> read_zip_directory(std::span<const std::byte> archive, const std::string& name);

// A deflated member's bytes, inflated and checked against its size and CRC-32.
std::vector<std::byte> inflate_member(std::span<const std::byte> archive, const ZipMember& member,
                                      const std::string& name);

}  // namespace cuae::data
