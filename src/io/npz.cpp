// NumPy .npz archives: a zip of .npy members named <key>.npy (np.savez stores them, savez_compressed
// deflates them). The member named by LoadOptions::npz_key, or the archive's only array, is read
// through npy_dataset like a .npy file: a stored member stays in the file's map, a deflated one is
// inflated once into memory.
#include <memory>
#include <string>
#include <vector>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "io/io_checks.h"
#include "io/mapped_file.h"
#include "io/npy_format.h"
#include "io/zip_reader.h"

namespace cuae {

namespace {

constexpr std::string_view kSuffix = ".npy";

std::string key_list(const std::vector<data::ZipMember>& arrays) {
  std::string text;
  for (size_t i = 0; i < arrays.size() && i < 20; ++i) {
    text += (i ? ", " : "") + arrays[i].name.substr(0, arrays[i].name.size() - kSuffix.size());
  }
  return arrays.size() > 20 ? text + ", ..." : text;
}

const data::ZipMember& choose(const std::vector<data::ZipMember>& arrays, const std::string& key,
                              const std::string& name) {
  if (arrays.empty()) throw IoError(name + ": .npz archive holds no .npy arrays");
  if (key.empty()) {
    if (arrays.size() == 1) return arrays.front();
    throw IoError(name + ": .npz archive holds " + std::to_string(arrays.size()) + " arrays (" + key_list(arrays) +
                  "); choose one with --key NAME");
  }
  for (const data::ZipMember& m : arrays)
    if (m.name == key + std::string(kSuffix) || m.name == key) return m;
  throw IoError(name + ": .npz archive has no array '" + key + "' (it holds " + key_list(arrays) + ")");
}

}  // namespace

Dataset load_npz(const std::filesystem::path& path, const LoadOptions& options) {
  const std::string name = path.string();
  data::require_regular_file(path);
  auto map = std::make_shared<data::MappedStorage>(data::MappedFile(path));
  const std::span<const std::byte> archive(static_cast<const std::byte*>(map->data()), map->size_bytes());
  std::vector<data::ZipMember> arrays;
  for (data::ZipMember& m : data::read_zip_directory(archive, name))
    if (m.name.ends_with(kSuffix)) arrays.push_back(std::move(m));
  const data::ZipMember& member = choose(arrays, options.npz_key, name);
  const std::string member_name = name + ":" + member.name.substr(0, member.name.size() - kSuffix.size());

  if (member.method == 0) {
    return data::npy_dataset({map, static_cast<size_t>(member.data_offset), static_cast<size_t>(member.size)},
                             member_name, options);
  }
  if (member.method != 8) {
    throw IoError(name + ": " + member.name + " is compressed with zip method " + std::to_string(member.method) +
                  "; cuae reads stored and deflated members (numpy.savez / savez_compressed)");
  }
  auto inflated = std::make_shared<data::BufferStorage>(data::inflate_member(archive, member, name));
  const size_t size = inflated->size_bytes();
  return data::npy_dataset({std::move(inflated), 0, size}, member_name, options);
}

}  // namespace cuae
