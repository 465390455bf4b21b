#include "data/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "cuae/error.h"

namespace cuae::data {

namespace {
std::string errno_text() { return std::strerror(errno); }
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
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) throw IoError(path_.string() + ": close failed (" + errno_text() + ")");
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw IoError(path_.string() + ": cannot rename the finished file into place (" + errno_text() + ")");
  }
  temp_path_.clear();
  // The rename is durable only once the directory entry is on disk.
  const std::filesystem::path parent = path_.has_parent_path() ? path_.parent_path() : std::filesystem::path(".");
  const int dir_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd < 0) throw IoError(path_.string() + ": cannot open its directory to sync it (" + errno_text() + ")");
  const int synced = ::fsync(dir_fd);
  ::close(dir_fd);
  if (synced != 0) throw IoError(path_.string() + ": fsync of its directory failed (" + errno_text() + ")");
}

void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace cuae::data
