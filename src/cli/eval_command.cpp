// `cuae eval`: the mean loss of a saved model over a data set (the loss it was trained with).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"

namespace cuae::cli {

void add_eval_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("eval", "Print a model's mean loss over a data set");
  auto o = std::make_shared<ApplyOptions>();
  add_apply_options(*sub, *o, nullptr);
  sub->callback([o] {
    ModelAndData m = load_model_and_data(*o, "eval");
    const double loss = m.model.evaluate(m.data, o->batch);
    const std::string_view name = to_string(m.model.config().loss);
    std::printf("mean %.*s loss: %.8g over %lld rows of %s\n", static_cast<int>(name.size()), name.data(), loss,
                static_cast<long long>(m.data.rows()), m.data.name().c_str());
  });
}

}  // namespace cuae::cli
