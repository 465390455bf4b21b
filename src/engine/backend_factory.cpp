#include "engine/backend_factory.h"

#include <utility>

#include "engine/init.h"

namespace cuae {

ReadyBackend make_ready_backend(const ModelConfig& config, Device device, const BackendOptions& options) {
  config.validate();
  ReadyBackend ready{config, make_layout(config), nullptr};
  ready.backend = create_backend(ready.config, ready.layout, device, options);
  ready.backend->write_parameters(initial_parameters(ready.config, ready.layout));
  return ready;
}

}  // namespace cuae
