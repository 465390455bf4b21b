// Embedding cuae in a C++ program: build an autoencoder, fit it, encode some rows, save it.
// README.md shows this file; the test Install.ConsumerBuildsAgainstInstalledPackage compiles and runs it
// against the installed package, so the example cannot rot.
#include <cuae/cuae.h>

#include <cstdio>
#include <filesystem>

int main(int argc, char** argv) {
  const std::filesystem::path out = argc > 1 ? argv[1] : "embed.safetensors";
  try {
    cuae::ModelConfig config;  // Keras defaults: relu hidden, sigmoid output, BCE, Adam(1e-3)
    config.layers = {64, 16, 4};  // encoder 64 -> 16 -> 4; the decoder mirrors it
    config.optimizer.lr = 5e-3f;
    config.seed = 1;
    cuae::Model model(config, cuae::Device::best());

    // 1024 rows of 64 features on a 4-dimensional manifold; any Dataset or loader works the same.
    const cuae::Dataset data = cuae::make_structured(1024, 64, 4, /*seed=*/7);
    cuae::FitOptions options;
    options.epochs = 3;
    options.batch_size = 64;
    const cuae::History history = model.fit(data, options, [](const cuae::FitEvent& e) {
      if (e.kind == cuae::FitEvent::Kind::epoch_end)
        std::printf("epoch %d: loss %.5f, %.0f samples/s\n", e.epoch, e.stats.train_loss, e.stats.samples_per_second);
    });

    const cuae::Matrix codes = model.encode(data.slice(0, 5));  // 5 x 4
    model.save(out);
    std::printf("embed: %s, loss %.5f -> %.5f, code[0] = (%.3f, %.3f, %.3f, %.3f), saved %s\n",
                model.device().str().c_str(), history.epochs.front().train_loss, history.epochs.back().train_loss,
                codes.row(0)[0], codes.row(0)[1], codes.row(0)[2], codes.row(0)[3], out.c_str());
  } catch (const cuae::Error& e) {
    std::fprintf(stderr, "embed: %s\n", e.what());
    return 1;
  }
  return 0;
}
