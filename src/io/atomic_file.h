// Writing an output without ever leaving a half-written file under its name: the bytes go to a
// temporary file next to the destination (same file system, so rename is atomic), which is flushed,
// fsync'ed and renamed over the destination only when everything succeeded. An existing file at the
// destination stays untouched on any failure. The temporary ("<name>.tmp.XXXXXX") is flock'ed while
// it is written; a successful commit removes older unlocked temporaries of the same name, which are
// what a killed save leaves behind.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string_view>

namespace cuae::data {

class AtomicFile {
 public:
  // Creates the temporary file; throws IoError naming `path` when its directory is not writable.
  explicit AtomicFile(std::filesystem::path path);
  // Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* bytes, size_t count);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // fsync + rename onto the destination. Further writes are an error.
  void commit();

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::filesystem::path temp_path_;
  int fd_ = -1;
};

// The whole content at once.
void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes);

}  // namespace cuae::data
