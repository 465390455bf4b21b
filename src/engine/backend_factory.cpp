#include "engine/backend_factory.h"

#include <utility>

#include "cuae/error.h"

#include "engine/init.h"

namespace cuae {

ReadyBackend make_ready_backend(const ModelConfig& config, Device device, const BackendOptions& options) {
  config.validate();
  if (device.kind == DeviceKind::cuda && (config.tied_weights || config.regularization.any())) {
    throw Error("Model on " + device.str() + ": tied weights, input noise, dropout and the L1/KL/L2 penalties are "
                "not implemented on the CUDA backend yet; train such a model with --device cpu");
  }
  ReadyBackend ready{config, make_layout(config), nullptr};
  ready.backend = create_backend(ready.config, ready.layout, device, options);
  ready.backend->write_parameters(initial_parameters(ready.config, ready.layout));
  return ready;
}

}  // namespace cuae
