// Every error path of the public API raises a cuae::Error subtype whose message names the operation
// and the sizes, file or field involved.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "cuae/cuae.h"
#include "support/error_message.h"

namespace cuae {
namespace {

using ::testing::HasSubstr;

ModelConfig mnist_like() {
  ModelConfig c;
  c.layers = {784, 8};
  return c;
}

TEST(Errors, TrainStepNamesBothFeatureCounts) {
  Model model(mnist_like());
  std::vector<float> rows(3 * 783, 0.5f);
  EXPECT_EQ(message_of<ShapeError>([&] { model.train_step({rows.data(), 3, 783}); }),
            "train_step: batch has 783 features, model expects 784");
  EXPECT_THAT(message_of<ShapeError>([&] { model.train_step({rows.data(), 0, 784}); }),
              HasSubstr("train_step: batch has 0 rows"));
  EXPECT_THAT(message_of<ShapeError>([&] { model.train_step({nullptr, 2, 784}); }),
              HasSubstr("train_step: invalid batch view 2x784"));
}

TEST(Errors, FitRejectsBadDataAndOptions) {
  Model model(mnist_like());
  const Dataset narrow = Dataset::from_floats(std::vector<float>(4 * 783, 0.5f), 4, 783, "narrow.npy");
  const Dataset empty = Dataset::from_floats({}, 0, 784, "empty.npy");
  const Dataset good = Dataset::from_floats(std::vector<float>(4 * 784, 0.5f), 4, 784, "good.npy");
  EXPECT_EQ(message_of<ShapeError>([&] { model.fit(narrow); }),
            "fit: training set narrow.npy has 783 features, model expects 784");
  EXPECT_THAT(message_of<ShapeError>([&] { model.fit(empty); }), HasSubstr("fit: training set empty.npy has 0 rows"));
  EXPECT_THAT(message_of([&] { model.fit(good, {.batch_size = 0}); }), HasSubstr("fit: batch size must be >= 1, got 0"));
  EXPECT_THAT(message_of([&] { model.fit(good, {.epochs = -2}); }), HasSubstr("fit: epochs must be >= 0, got -2"));
  EXPECT_THAT(message_of([&] { model.fit(good, {.eval_batch_size = -1}); }), HasSubstr("eval batch size"));
  EXPECT_THAT(message_of([&] { model.fit(good, {.progress_every = -1}); }), HasSubstr("progress_every"));
  EXPECT_EQ(message_of<ShapeError>([&] { model.fit(good, {.validation = &narrow}); }),
            "fit: validation set narrow.npy has 783 features, model expects 784");
}

TEST(Errors, InferenceAndEvaluationNameTheOperation) {
  Model model(mnist_like());
  std::vector<float> rows(2 * 783, 0.5f);
  const MatrixView narrow{rows.data(), 2, 783};
  EXPECT_EQ(message_of<ShapeError>([&] { model.encode(narrow); }), "encode: input has 783 features, model expects 784");
  EXPECT_EQ(message_of<ShapeError>([&] { model.reconstruct(narrow); }),
            "reconstruct: input has 783 features, model expects 784");
  EXPECT_EQ(message_of<ShapeError>([&] { model.decode(narrow); }), "decode: input has 783 features, model expects 8");
  EXPECT_EQ(message_of<ShapeError>([&] { model.evaluate(narrow); }), "evaluate: data has 783 features, model expects 784");
  const Dataset set = Dataset::from_floats(rows, 2, 783, "x.csv");
  EXPECT_EQ(message_of<ShapeError>([&] { model.evaluate(set); }),
            "evaluate: data set x.csv has 783 features, model expects 784");
  EXPECT_EQ(message_of<ShapeError>([&] { model.encode(set); }),
            "encode: data set x.csv has 783 features, model expects 784");
  const Dataset good = Dataset::from_floats(std::vector<float>(784, 0.5f), 1, 784, "g");
  EXPECT_THAT(message_of([&] { model.evaluate(good, 0); }), HasSubstr("evaluate: batch size must be >= 1, got 0"));
  EXPECT_THAT(message_of<ShapeError>([&] { model.evaluate(Dataset::from_floats({}, 0, 784, "none")); }),
              HasSubstr("evaluate: data set none has 0 rows"));
}

TEST(Errors, ParameterAndOptimizerStateSizesAreChecked) {
  Model model(mnist_like());
  const auto total = static_cast<size_t>(model.layout().total_floats);
  EXPECT_EQ(message_of<ShapeError>([&] { model.set_parameters(std::vector<float>(total - 1)); }),
            "set_parameters: got " + std::to_string(total - 1) + " floats, layout has " + std::to_string(total));
  OptimizerState state = model.optimizer_state();
  state.v.pop_back();
  EXPECT_THAT(message_of<ShapeError>([&] { model.set_optimizer_state(state); }),
              HasSubstr("set_optimizer_state: m has " + std::to_string(total) + " and v " + std::to_string(total - 1)));
  state = model.optimizer_state();
  state.step = -1;
  EXPECT_THAT(message_of([&] { model.set_optimizer_state(state); }), HasSubstr("negative step -1"));
}

TEST(Errors, InvalidConfigIsRejectedAtConstruction) {
  ModelConfig c;
  c.loss = Loss::bce;
  c.output_activation = Activation::linear;
  EXPECT_THAT(message_of([&] { Model m(c); }), HasSubstr("loss bce requires output_activation sigmoid"));
}

TEST(Errors, CudaDeviceWithoutUsableCudaIsACudaError) {
  const CudaStatus status = cuda_status();
  if (status.usable) GTEST_SKIP() << "a CUDA device is usable here, so the error path cannot be reached";
  const std::string message = message_of<CudaError>([] { Model m(ModelConfig{}, Device::cuda(0)); });
  EXPECT_THAT(message, HasSubstr("cuda"));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("wrong exception type")));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("no exception")));
  EXPECT_FALSE(status.reason.empty());
}

TEST(Errors, LoadAndSaveNameThePath) {
  const auto missing = std::filesystem::temp_directory_path() / "cuae_no_such_checkpoint.safetensors";
  EXPECT_THAT(message_of<IoError>([&] { Model::load(missing); }), HasSubstr(missing.string()));
  Model model(mnist_like());
  EXPECT_THAT(message_of<IoError>([&] { model.save("/nonexistent-dir/m.safetensors"); }),
              HasSubstr("/nonexistent-dir/m.safetensors"));
}

TEST(Errors, ParseErrorsListTheAcceptedNames) {
  EXPECT_THAT(message_of([] { parse_loss("huber"); }), HasSubstr("unknown loss 'huber'; accepted: bce, mse"));
  EXPECT_THAT(message_of([] { parse_optimizer("lion"); }), HasSubstr("accepted: adam, sgd"));
  EXPECT_THAT(message_of([] { Device::parse("tpu"); }), HasSubstr("unknown device 'tpu'"));
}

}  // namespace
}  // namespace cuae
