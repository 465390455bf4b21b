// `cuae encode`: the latent codes of a data set as a float32 .npy of shape [N, code].
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"
#include "cuae/dataset.h"

namespace cuae::cli {

void add_encode_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("encode", "Write the latent codes of a data set as [N, code] float32 .npy");
  auto o = std::make_shared<ApplyOptions>();
  add_apply_options(*sub, *o, "Output .npy file");
  sub->callback([o] {
    check_output_path(o->out, "--out", {".npy"});
    ModelAndData m = load_model_and_data(*o, "encode");
    const Matrix codes = m.model.encode(m.data);
    save_npy(o->out, codes.view());
    std::printf("wrote %s [%lld, %lld]\n", o->out.c_str(), static_cast<long long>(codes.rows),
                static_cast<long long>(codes.cols));
  });
}

}  // namespace cuae::cli
