// Zip structures (PKWARE APPNOTE.TXT, sections 4.3 and 4.5): all little-endian.
//   end of central directory  06054b50 .. entries(2 @10) cd_size(4 @12) cd_offset(4 @16) comment_len(2 @20)
//   zip64 locator (20 bytes before it)  07064b50 disk(4) zip64_eocd_offset(8 @8) disks(4)
//   zip64 end of central directory      06064b50 .. entries(8 @32) cd_size(8 @40) cd_offset(8 @48)
//   central entry  02014b50 .. flags(2 @8) method(2 @10) crc(4 @16) csize(4 @20) size(4 @24)
//                  name_len(2 @28) extra_len(2 @30) comment_len(2 @32) disk(2 @34) offset(4 @42), 46 bytes
//   local header   04034b50 .. name_len(2 @26) extra_len(2 @28), 30 bytes, then the data
// A 32-bit field of all ones means "see the zip64 extra field" (id 0x0001), which holds the
// 64-bit values in the order size, compressed size, offset, for those fields that overflowed.
#include "io/zip_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "cuae/error.h"

namespace cuae::data {

namespace {

constexpr uint32_t kEndSignature = 0x06054b50, kZip64LocatorSignature = 0x07064b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50, kCentralSignature = 0x02014b50, kLocalSignature = 0x04034b50;
constexpr size_t kEndSize = 22, kZip64LocatorSize = 20, kZip64EndSize = 56, kCentralSize = 46, kLocalSize = 30;

// Bounds-checked little-endian reads from the archive.
class Reader {
 public:
  Reader(std::span<const std::byte> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw IoError(name_ + ": not a valid zip (.npz) archive: " + what);
  }

  uint64_t get(uint64_t offset, int width, const char* what) const {
    if (offset > bytes_.size() || static_cast<uint64_t>(width) > bytes_.size() - offset) {
      fail(std::string(what) + " at byte " + std::to_string(offset) + " lies outside the " +
           std::to_string(bytes_.size()) + "-byte file");
    }
    uint64_t value = 0;
    for (int i = width - 1; i >= 0; --i) value = (value << 8) | std::to_integer<uint64_t>(bytes_[offset + i]);
    return value;
  }
  void require(uint64_t offset, uint64_t length, const char* what) const {
    if (offset > bytes_.size() || length > bytes_.size() - offset) {
      fail(std::string(what) + " (" + std::to_string(length) + " bytes at " + std::to_string(offset) +
           ") runs past the end of the " + std::to_string(bytes_.size()) + "-byte file");
    }
  }
  std::string text(uint64_t offset, uint64_t length, const char* what) const {
    require(offset, length, what);
    return {reinterpret_cast<const char*>(bytes_.data() + offset), static_cast<size_t>(length)};
  }
  size_t size() const { return bytes_.size(); }

 private:
  std::span<const std::byte> bytes_;
  const std::string& name_;
};

struct Directory {
  uint64_t entries = 0, size = 0, offset = 0;
};

Directory find_directory(const Reader& in) {
  if (in.size() < kEndSize) in.fail("shorter than an end-of-directory record");
  // The end record is followed only by its comment (at most 65535 bytes): search back for it.
  const uint64_t lowest = in.size() >= kEndSize + 0xFFFF ? in.size() - kEndSize - 0xFFFF : 0;
  for (uint64_t at = in.size() - kEndSize + 1; at-- > lowest;) {
    if (in.get(at, 4, "signature") != kEndSignature) continue;
    if (in.get(at + 20, 2, "comment length") != in.size() - at - kEndSize) continue;
    if (in.get(at + 4, 2, "disk number") != 0 || in.get(at + 6, 2, "directory disk") != 0) {
      in.fail("multi-disk archives are not supported");
    }
    Directory dir{in.get(at + 10, 2, "entry count"), in.get(at + 12, 4, "directory size"),
                  in.get(at + 16, 4, "directory offset")};
    if (at >= kZip64LocatorSize && in.get(at - kZip64LocatorSize, 4, "signature") == kZip64LocatorSignature) {
      const uint64_t end64 = in.get(at - kZip64LocatorSize + 8, 8, "zip64 end offset");
      if (in.get(end64, 4, "zip64 end record") != kZip64EndSignature) in.fail("zip64 end record not found");
      in.require(end64, kZip64EndSize, "zip64 end record");
      dir = {in.get(end64 + 32, 8, "entry count"), in.get(end64 + 40, 8, "directory size"),
             in.get(end64 + 48, 8, "directory offset")};
    }
    in.require(dir.offset, dir.size, "central directory");
    // Each entry takes at least 46 bytes: a count beyond that is a lie, refused before reserving.
    if (dir.entries > dir.size / kCentralSize)
      in.fail(std::to_string(dir.entries) + " entries do not fit the directory");
    return dir;
  }
  in.fail("no end-of-central-directory record (is it a zip file?)");
}

// Replaces the fields that overflowed 32 bits with their zip64 extra values.
void apply_zip64_extra(const Reader& in, uint64_t extra, uint64_t extra_len, ZipMember& m, uint64_t& local_offset) {
  for (uint64_t at = extra; at + 4 <= extra + extra_len;) {
    const uint64_t id = in.get(at, 2, "extra field id"), length = in.get(at + 2, 2, "extra field length");
    if (id == 0x0001) {
      uint64_t field = at + 4;
      const uint64_t end = field + length;
      for (uint64_t* value : {&m.size, &m.compressed_size, &local_offset}) {
        if (*value != 0xFFFFFFFFu) continue;
        if (field + 8 > end) in.fail(m.name + ": zip64 extra field too short");
        *value = in.get(field, 8, "zip64 value");
        field += 8;
      }
      return;
    }
    at += 4 + length;
  }
}

}  // namespace

std::vector<ZipMember> read_zip_directory(std::span<const std::byte> archive, const std::string& name) {
  const Reader in(archive, name);
  const Directory dir = find_directory(in);
  std::vector<ZipMember> members;
  members.reserve(static_cast<size_t>(dir.entries));
  uint64_t at = dir.offset;
  for (uint64_t i = 0; i < dir.entries; ++i) {
    if (in.get(at, 4, "central directory entry") != kCentralSignature)
      in.fail("central directory entry " + std::to_string(i) + " is corrupt");
    in.require(at, kCentralSize, "central directory entry");
    ZipMember m;
    const uint64_t flags = in.get(at + 8, 2, "flags");
    m.method = static_cast<uint16_t>(in.get(at + 10, 2, "method"));
    m.crc32 = static_cast<uint32_t>(in.get(at + 16, 4, "crc"));
    m.compressed_size = in.get(at + 20, 4, "compressed size");
    m.size = in.get(at + 24, 4, "size");
    const uint64_t name_len = in.get(at + 28, 2, "name length"), extra_len = in.get(at + 30, 2, "extra length");
    const uint64_t comment_len = in.get(at + 32, 2, "comment length");
    uint64_t local = in.get(at + 42, 4, "local header offset");
    m.name = in.text(at + kCentralSize, name_len, "member name");
    in.require(at + kCentralSize + name_len, extra_len, "extra field");
    apply_zip64_extra(in, at + kCentralSize + name_len, extra_len, m, local);
    if (flags & 1u) in.fail(m.name + " is encrypted");
    if (in.get(local, 4, "local header") != kLocalSignature) in.fail(m.name + ": local header not found");
    in.require(local, kLocalSize, "local header");
    m.data_offset = local + kLocalSize + in.get(local + 26, 2, "name length") + in.get(local + 28, 2, "extra length");
    in.require(m.data_offset, m.compressed_size, (m.name + " data").c_str());
    if (m.method == 0 && m.compressed_size != m.size) in.fail(m.name + ": stored member with two sizes");
    members.push_back(std::move(m));
    at += kCentralSize + name_len + extra_len + comment_len;
  }
  return members;
}

std::vector<std::byte> inflate_member(std::span<const std::byte> archive, const ZipMember& member,
                                      const std::string& name) {
  const std::string where = name + ": " + member.name;
  // Deflate expands at most 1032:1, so a larger claim is refused before anything is allocated.
  if (member.size / 1032 > member.compressed_size + 1) {
    throw IoError(where + ": claims " + std::to_string(member.size) + " bytes, more than " +
                  std::to_string(member.compressed_size) + " deflated bytes can expand to");
  }
  std::vector<std::byte> out(static_cast<size_t>(member.size));
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw IoError(where + ": zlib inflateInit2 failed");
  const std::byte* in = archive.data() + member.data_offset;
  std::byte* next_out = out.data();
  uint64_t in_left = member.compressed_size, out_left = member.size;
  int status = Z_OK;
  do {  // zlib counts in 32 bits: at most 1 GiB in and out per call
    if (z.avail_in == 0 && in_left > 0) {
      z.avail_in = static_cast<uInt>(std::min<uint64_t>(in_left, 1u << 30));
      z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in));
      in += z.avail_in;
      in_left -= z.avail_in;
    }
    if (z.avail_out == 0 && out_left > 0) {
      z.avail_out = static_cast<uInt>(std::min<uint64_t>(out_left, 1u << 30));
      z.next_out = reinterpret_cast<Bytef*>(next_out);
      next_out += z.avail_out;
      out_left -= z.avail_out;
    }
    status = inflate(&z, Z_NO_FLUSH);  // Z_OK means progress; Z_BUF_ERROR: input ended or output full
  } while (status == Z_OK);
  const uint64_t produced = member.size - out_left - z.avail_out;
  inflateEnd(&z);
  if (status != Z_STREAM_END || produced != member.size) {
    throw IoError(where + ": corrupt deflate data (" + std::to_string(produced) + " of " + std::to_string(member.size) +
                  " bytes inflated)");
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (uint64_t done = 0; done < out.size();) {
    const uInt chunk = static_cast<uInt>(std::min<uint64_t>(out.size() - done, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(out.data() + done), chunk);
    done += chunk;
  }
  if (crc != member.crc32) throw IoError(where + ": CRC-32 mismatch (the archive is corrupt)");
  return out;
}

}  // namespace cuae::data
