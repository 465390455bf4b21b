#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "cuae/error.h"

namespace cuae::data {

namespace {

std::string errno_text() { return std::strerror(errno); }

// A temporary younger than this may belong to a writer that has created it but not locked it yet.
constexpr auto kStaleAge = std::chrono::seconds(10);

// Removes "<name>.tmp.XXXXXX" files next to `path` that no live writer holds: each writer keeps an
// exclusive flock on its temporary until the rename, and the kernel drops the lock when the process
// dies, so an unlocked temporary is a leftover of a killed save. Best effort: errors are ignored.
void remove_stale_temporaries(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const std::string prefix = path.filename().string() + ".tmp.";
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0) continue;
    if (!entry.is_regular_file(error)) continue;
    const auto modified = fs::last_write_time(entry.path(), error);
    if (error || fs::file_time_type::clock::now() - modified < kStaleAge) continue;
    const int fd = ::open(entry.path().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) ::unlink(entry.path().c_str());
    ::close(fd);
  }
}

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path path) : path_(std::move(path)) {
  if (path_.empty()) throw IoError("write: empty output path");
  if (std::filesystem::is_directory(path_)) throw IoError(path_.string() + ": is a directory, expected a file name");
  // mkstemp needs a writable template; the name keeps the destination's, so strays are recognisable.
  std::string templ = path_.string() + ".tmp.XXXXXX";
  std::vector<char> buffer(templ.begin(), templ.end());
  buffer.push_back('\0');
  fd_ = ::mkstemp(buffer.data());
  if (fd_ < 0) throw IoError(path_.string() + ": cannot create a file there (" + errno_text() + ")");
  temp_path_ = buffer.data();
  // Marks the temporary as in use until commit or destruction (see remove_stale_temporaries).
  ::flock(fd_, LOCK_EX | LOCK_NB);
  // mkstemp creates 0600; outputs are shared results, so make them readable like a usual 022-umask
  // file. (Reading the umask means setting it, which would race with other threads.)
  if (::fchmod(fd_, 0644) != 0) {
    ::close(fd_);
    ::unlink(temp_path_.c_str());
    throw IoError(path_.string() + ": cannot set permissions (" + errno_text() + ")");
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)), temp_path_(std::exchange(other.temp_path_, {})),
      fd_(std::exchange(other.fd_, -1)) {}

void AtomicFile::write(const void* bytes, size_t count) {
  if (fd_ < 0) throw IoError(path_.string() + ": write after commit");
  const char* p = static_cast<const char*>(bytes);
  while (count > 0) {
    const ssize_t written = ::write(fd_, p, count);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw IoError(path_.string() + ": write failed (" + errno_text() + ")");
    }
    p += written;
    count -= static_cast<size_t>(written);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw IoError(path_.string() + ": committed twice");
  if (::fsync(fd_) != 0) throw IoError(path_.string() + ": fsync failed (" + errno_text() + ")");
  // Renamed while still open and locked, so no other writer's clean-up can take it in between.
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw IoError(path_.string() + ": cannot rename the finished file into place (" + errno_text() + ")");
  }
  temp_path_.clear();
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) throw IoError(path_.string() + ": close failed (" + errno_text() + ")");
  // The rename is durable only once the directory entry is on disk.
  const std::filesystem::path parent = path_.has_parent_path() ? path_.parent_path() : std::filesystem::path(".");
  const int dir_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd < 0) throw IoError(path_.string() + ": cannot open its directory to sync it (" + errno_text() + ")");
  const int synced = ::fsync(dir_fd);
  ::close(dir_fd);
  if (synced != 0) throw IoError(path_.string() + ": fsync of its directory failed (" + errno_text() + ")");
  remove_stale_temporaries(path_);
}

void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace cuae::data
