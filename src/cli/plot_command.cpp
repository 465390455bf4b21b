// `cuae plot`: the loss curves of a metrics CSV (from `cuae train --metrics`) as a PNG.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/metrics.h"
#include "cli/options.h"
#include "cli/plot.h"
#include "cli/png.h"

namespace cuae::cli {

namespace {
struct PlotOptions {
  std::string metrics, out, title = "cuae training loss";
};
}  // namespace

void add_plot_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("plot", "Draw the train and validation loss curves of a metrics CSV");
  auto o = std::make_shared<PlotOptions>();
  sub->add_option("--metrics", o->metrics, "Metrics CSV written by cuae train --metrics")->required();
  sub->add_option("--out", o->out, "Output .png")->required();
  sub->add_option("--title", o->title, "Title above the plot")->capture_default_str();
  sub->callback([o] {
    check_output_path(o->out, "--out", {".png"});
    write_png(o->out, render_loss_plot(read_metrics_csv(o->metrics), o->title));
    std::printf("wrote %s\n", o->out.c_str());
  });
}

}  // namespace cuae::cli
