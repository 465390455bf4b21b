// Loading cuDNN with dlopen and the RAII owners of its handle and descriptors (see cudnn_library.h).
#include "cuda/cudnn/cudnn_library.h"

#include <dlfcn.h>

#include <cstdio>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace cuae::cuda::cudnn {

namespace {

// The library is never dlclose'd: plans, handles and kernels it owns may outlive any one object,
// and unloading a CUDA library during process teardown races the driver's own cleanup.
std::variant<Api, std::string> load() {
  const char* const names[] = {"libcudnn.so.9", "libcudnn.so"};
  void* library = nullptr;
  std::string first_error;
  for (const char* name : names) {
    library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library != nullptr) break;
    const char* error = dlerror();
    if (first_error.empty()) first_error = error != nullptr ? error : "unknown dlopen error";
  }
  if (library == nullptr) {
    return "cuDNN is not available: cannot load libcudnn.so.9 (" + first_error +
           "); install cuDNN 9 or add its lib directory to LD_LIBRARY_PATH";
  }

  Api api;
  std::string missing;
  auto resolve = [&](auto& pointer, const char* symbol, bool required) {
    void* address = dlsym(library, symbol);
    if (address == nullptr && required) missing += (missing.empty() ? "" : ", ") + std::string(symbol);
    pointer = reinterpret_cast<std::remove_reference_t<decltype(pointer)>>(address);
  };
  resolve(api.get_version, "cudnnGetVersion", true);
  resolve(api.create, "cudnnCreate", true);
  resolve(api.destroy, "cudnnDestroy", true);
  resolve(api.set_stream, "cudnnSetStream", true);
  resolve(api.get_error_string, "cudnnGetErrorString", true);
  resolve(api.create_descriptor, "cudnnBackendCreateDescriptor", true);
  resolve(api.destroy_descriptor, "cudnnBackendDestroyDescriptor", true);
  resolve(api.set_attribute, "cudnnBackendSetAttribute", true);
  resolve(api.get_attribute, "cudnnBackendGetAttribute", true);
  resolve(api.finalize, "cudnnBackendFinalize", true);
  resolve(api.execute, "cudnnBackendExecute", true);
  resolve(api.get_last_error_string, "cudnnGetLastErrorString", false);

  Dl_info info{};
  if (api.get_version != nullptr && dladdr(reinterpret_cast<void*>(api.get_version), &info) != 0 &&
      info.dli_fname != nullptr) {
    api.library_path = info.dli_fname;
  }
  if (!missing.empty()) {
    return "cuDNN is not available: " + (api.library_path.empty() ? std::string("libcudnn") : api.library_path) +
           " lacks " + missing + "; install cuDNN 9";
  }
  api.version = api.get_version();
  if (api.version / 10000 != 9) {
    return "cuDNN is not available: " + api.library_path + " is cuDNN " + std::to_string(api.version / 10000) + "." +
           std::to_string(api.version / 100 % 100) + ", the baseline needs cuDNN 9";
  }
  return api;
}

}  // namespace

const Api& api() {
  static const std::variant<Api, std::string> loaded = load();  // thread-safe, once
  if (const auto* error = std::get_if<std::string>(&loaded)) throw CudnnUnavailableError(*error);
  return std::get<Api>(loaded);
}

std::string status_text(cudnnStatus_t status) {
  const Api& cudnn = api();
  std::string text = cudnn.get_error_string(status);
  if (cudnn.get_last_error_string != nullptr) {
    char detail[1024] = {};
    cudnn.get_last_error_string(detail, sizeof(detail));
    if (detail[0] != '\0') text += std::string(" (") + detail + ")";
  }
  return text;
}

bool is_not_supported(cudnnStatus_t status) { return CUDNN_STATUS_CATEGORY(status) == CUDNN_STATUS_NOT_SUPPORTED; }

void check(cudnnStatus_t status, const char* function, const std::string& stage) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  throw CudaError(std::string(function) + " failed while " + stage + ": " + status_text(status));
}

// ---- Descriptor ---------------------------------------------------------------------------------

Descriptor::Descriptor(cudnnBackendDescriptorType_t type, std::string what) : what_(std::move(what)) {
  const cudnnStatus_t status = api().create_descriptor(type, &descriptor_);
  if (status != CUDNN_STATUS_SUCCESS) check(status, "cudnnBackendCreateDescriptor", "creating " + what_);
}

Descriptor::~Descriptor() { release(); }

Descriptor::Descriptor(Descriptor&& other) noexcept
    : descriptor_(std::exchange(other.descriptor_, nullptr)), what_(std::move(other.what_)) {}

Descriptor& Descriptor::operator=(Descriptor&& other) noexcept {
  if (this != &other) {
    release();
    descriptor_ = std::exchange(other.descriptor_, nullptr);
    what_ = std::move(other.what_);
  }
  return *this;
}

void Descriptor::release() noexcept {
  if (descriptor_ == nullptr) return;
  // A descriptor exists only after api() succeeded, so this cannot throw.
  const cudnnStatus_t status = api().destroy_descriptor(descriptor_);
  if (status != CUDNN_STATUS_SUCCESS) {
    std::fprintf(stderr, "cuae: cudnnBackendDestroyDescriptor(%s) failed: %s\n", what_.c_str(),
                 api().get_error_string(status));
  }
  descriptor_ = nullptr;
}

void Descriptor::set(cudnnBackendAttributeName_t attribute, cudnnBackendAttributeType_t type, int64_t count,
                     const void* values) {
  // The stage text is built only on failure: forward() sets attributes on every call.
  const cudnnStatus_t status = api().set_attribute(descriptor_, attribute, type, count, values);
  if (status != CUDNN_STATUS_SUCCESS) {
    check(status, "cudnnBackendSetAttribute",
          "setting attribute " + std::to_string(static_cast<int>(attribute)) + " of " + what_);
  }
}

void Descriptor::set(cudnnBackendAttributeName_t attribute, const Descriptor& value) {
  const cudnnBackendDescriptor_t raw = value.get();
  set(attribute, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &raw);
}

void Descriptor::set(cudnnBackendAttributeName_t attribute, int64_t value) {
  set(attribute, CUDNN_TYPE_INT64, 1, &value);
}

void Descriptor::finalize() {
  const cudnnStatus_t status = try_finalize();
  if (status != CUDNN_STATUS_SUCCESS) check(status, "cudnnBackendFinalize", "finalizing " + what_);
}

cudnnStatus_t Descriptor::try_finalize() { return api().finalize(descriptor_); }

// ---- Engine choice ------------------------------------------------------------------------------

namespace {

struct EngineNotes {
  int64_t global_index = -1;
  std::vector<cudnnBackendNumericalNote_t> numerical;
  std::vector<cudnnBackendBehaviorNote_t> behavior;
};

EngineNotes read_engine(const Descriptor& config) {
  const Api& cudnn = api();
  Descriptor engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR, "the engine of a heuristics configuration");
  cudnnBackendDescriptor_t raw = engine.get();
  int64_t count = 0;
  check(cudnn.get_attribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &count, &raw),
        "cudnnBackendGetAttribute", "reading the engine of " + config.what());
  EngineNotes notes;
  check(cudnn.get_attribute(raw, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &count, &notes.global_index),
        "cudnnBackendGetAttribute", "reading the global index of the engine of " + config.what());
  notes.numerical.resize(CUDNN_NUMERICAL_NOTE_TYPE_COUNT);
  check(cudnn.get_attribute(raw, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                            CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &count, notes.numerical.data()),
        "cudnnBackendGetAttribute", "reading the numerical notes of the engine of " + config.what());
  notes.numerical.resize(static_cast<size_t>(count));
  notes.behavior.resize(CUDNN_BEHAVIOR_NOTE_TYPE_COUNT);
  check(cudnn.get_attribute(raw, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                            CUDNN_BEHAVIOR_NOTE_TYPE_COUNT, &count, notes.behavior.data()),
        "cudnnBackendGetAttribute", "reading the behavior notes of the engine of " + config.what());
  notes.behavior.resize(static_cast<size_t>(count));
  return notes;
}

const char* note_name(cudnnBackendNumericalNote_t note) {
  switch (note) {
    case CUDNN_NUMERICAL_NOTE_TENSOR_CORE: return "tensor core";
    case CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS: return "down-converts inputs";
    case CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION: return "reduced-precision reduction";
    case CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC: return "nondeterministic";
    case CUDNN_NUMERICAL_NOTE_STRICT_NAN_PROP: return "strict NaN propagation";
    default: return "other";
  }
}

const char* note_name(cudnnBackendBehaviorNote_t note) {
  switch (note) {
    case CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION: return "runtime compilation";
    case CUDNN_BEHAVIOR_NOTE_SUPPORTS_CUDA_GRAPH_NATIVE_API: return "native CUDA graph API";
    case CUDNN_BEHAVIOR_NOTE_CUBLASLT_DEPENDENCY: return "uses cuBLASLt";
    default: return "other";
  }
}

// Why an engine with these notes may not run the FP32 baseline, or nullptr when it may. PyTorch's
// cuDNN paths filter the same notes: DOWN_CONVERT_INPUTS always, TENSOR_CORE on FP32 without TF32.
const char* rejection(const EngineNotes& notes, bool allow_tf32) {
  for (const cudnnBackendNumericalNote_t note : notes.numerical) {
    if (note == CUDNN_NUMERICAL_NOTE_TENSOR_CORE && !allow_tf32) return "use tensor cores (TF32 not allowed)";
    if (note == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS) return "down-convert their inputs";
    if (note == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION) return "reduce in reduced precision";
    if (note == CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC) return "are nondeterministic";
  }
  return nullptr;
}

template <typename Note>
std::string join_notes(const std::vector<Note>& notes) {
  std::string text;
  for (const Note note : notes) text += (text.empty() ? "" : ", ") + std::string(note_name(note));
  return text.empty() ? "none" : text;
}

}  // namespace

std::optional<EngineChoice> choose_engine(const Descriptor& graph, cudnnHandle_t handle, bool allow_tf32,
                                          std::string& why_none) {
  const Api& cudnn = api();
  why_none.clear();
  const std::pair<cudnnBackendHeurMode_t, const char*> modes[] = {{CUDNN_HEUR_MODE_A, "A"},
                                                                   {CUDNN_HEUR_MODE_FALLBACK, "FALLBACK"}};
  for (const auto& [mode, mode_name] : modes) {
    const std::string heuristics_name = std::string("heuristics ") + mode_name;
    Descriptor heuristics(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "the engine " + heuristics_name);
    heuristics.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph);
    heuristics.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
    const cudnnStatus_t heuristics_status = heuristics.try_finalize();
    int64_t count = 0;
    if (heuristics_status == CUDNN_STATUS_SUCCESS) {
      check(cudnn.get_attribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                &count, nullptr),
            "cudnnBackendGetAttribute", "counting the configurations of the " + heuristics_name);
    }
    std::vector<Descriptor> configs;
    std::vector<cudnnBackendDescriptor_t> raw_configs;
    for (int64_t i = 0; i < count; ++i) {
      configs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR,
                           "configuration " + std::to_string(i) + " of the " + heuristics_name);
      raw_configs.push_back(configs.back().get());
    }
    if (count > 0) {
      check(cudnn.get_attribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
                                &count, raw_configs.data()),
            "cudnnBackendGetAttribute", "reading the configurations of the " + heuristics_name);
    }

    std::map<std::string, int> turned_down;  // reason -> how many configurations
    std::string first_plan_failure;
    for (int64_t i = 0; i < count; ++i) {
      const EngineNotes notes = read_engine(configs[static_cast<size_t>(i)]);
      if (const char* reason = rejection(notes, allow_tf32)) {
        ++turned_down[reason];
        continue;
      }
      Descriptor plan(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR,
                      "the execution plan of engine " + std::to_string(notes.global_index));
      plan.set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
      plan.set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, configs[static_cast<size_t>(i)]);
      const cudnnStatus_t plan_status = plan.try_finalize();
      if (plan_status != CUDNN_STATUS_SUCCESS) {
        if (first_plan_failure.empty()) {
          first_plan_failure = "engine " + std::to_string(notes.global_index) + ": " + status_text(plan_status);
        }
        ++turned_down[std::string("have execution plans that do not finalize (") + cudnn.get_error_string(plan_status) +
                      ")"];
        continue;
      }
      int64_t workspace = 0, got = 0;
      check(cudnn.get_attribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &got,
                                &workspace),
            "cudnnBackendGetAttribute", "reading the workspace size of " + plan.what());
      std::string description = "engine " + std::to_string(notes.global_index) + " (" + heuristics_name +
                                " configuration " + std::to_string(i) + "; numerical notes: " +
                                join_notes(notes.numerical) + "; behavior notes: " + join_notes(notes.behavior) +
                                "), workspace " + std::to_string(workspace) + " B";
      return EngineChoice{std::move(configs[static_cast<size_t>(i)]), std::move(plan), workspace,
                          std::move(description)};
    }

    why_none += (why_none.empty() ? "" : "; ") + heuristics_name + ": ";
    if (heuristics_status != CUDNN_STATUS_SUCCESS) {
      why_none += "did not finalize, " + status_text(heuristics_status);
    } else if (count == 0) {
      why_none += "no configurations";
    } else {
      // e.g. "8 configurations, of which 6 use tensor cores (TF32 not allowed), 2 have execution plans ..."
      why_none += std::to_string(count) + " configurations, of which";
      for (const auto& [reason, how_many] : turned_down) {
        why_none += " " + std::to_string(how_many) + " " + reason + ",";
      }
      why_none.pop_back();
      if (!first_plan_failure.empty()) why_none += " (first: " + first_plan_failure + ")";
    }
  }
  return std::nullopt;
}

// ---- Handle -------------------------------------------------------------------------------------

Handle::Handle(cudaStream_t stream) {
  const Api& cudnn = api();
  check(cudnn.create(&handle_), "cudnnCreate", "creating the cuDNN handle");
  const cudnnStatus_t status = cudnn.set_stream(handle_, stream);
  if (status != CUDNN_STATUS_SUCCESS) {
    release();
    check(status, "cudnnSetStream", "binding the cuDNN handle to the network's stream");
  }
}

Handle::~Handle() { release(); }

Handle::Handle(Handle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    release();
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

void Handle::release() noexcept {
  if (handle_ == nullptr) return;
  const cudnnStatus_t status = api().destroy(handle_);
  if (status != CUDNN_STATUS_SUCCESS) {
    std::fprintf(stderr, "cuae: cudnnDestroy failed: %s\n", api().get_error_string(status));
  }
  handle_ = nullptr;
}

}  // namespace cuae::cuda::cudnn
