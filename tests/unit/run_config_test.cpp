// RunConfig, the one configuration grammar: round trips, defaults, what older files still read as,
// and errors that name the key and the source.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

#include "cuae/error.h"
#include "cuae/model.h"
#include "cuae/regularization.h"
#include "cuae/run_config.h"
#include "support/error_message.h"

namespace cuae {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

RunConfig unusual_run() {
  RunConfig run;
  run.model.layers = {37, 13, 5};
  run.model.loss = Loss::mse;
  run.model.output_activation = Activation::linear;
  run.model.optimizer.lr = 0.0123f;
  run.fit.epochs = 7;
  run.fit.batch_size = 33;
  run.fit.shuffle = false;
  run.fit.eval_batch_size = 99;
  run.data = "structured:100,37,3";
  run.validation = "random:20,37";
  run.load.raw_cols = 37;
  run.load.csv_header = true;
  run.load.drop_non_finite = true;
  run.load.csv_skip_cols = 2;
  run.load.csv_delimiter = '\t';
  run.load.npz_key = "x_train";
  run.load.scale = 1.0 / 255;
  run.init_strict = true;
  run.out = "dir/m.safetensors";
  run.metrics = "dir/m.csv";
  run.init_from = "start.safetensors";
  run.checkpoint = "dir/ckpt.safetensors";
  run.checkpoint_every = 3;
  run.checkpoint_by_epochs = true;
  run.device = "cuda:1";
  run.backend.forward = BackendOptions::Forward::cublas;
  run.backend.cuda_graphs = false;
  run.backend.allow_tf32 = true;
  run.backend.cpu_threads = 3;
  run.backend.device_memory_budget = 12345;
  return run;
}

TEST(RunConfig, EveryFieldSurvivesTheJsonRoundTrip) {
  const RunConfig run = unusual_run();
  const std::string text = to_json(run);
  const RunConfig back = run_config_from_json(text);
  EXPECT_EQ(to_json(back), text);
  EXPECT_EQ(to_json(back.model), to_json(run.model));
  EXPECT_EQ(back.fit.epochs, 7);
  EXPECT_EQ(back.fit.batch_size, 33);
  EXPECT_FALSE(back.fit.shuffle);
  EXPECT_EQ(back.fit.eval_batch_size, 99);
  EXPECT_EQ(back.validation, "random:20,37");
  EXPECT_TRUE(back.load.drop_non_finite);
  EXPECT_EQ(back.load.csv_skip_cols, 2);
  EXPECT_EQ(back.load.csv_delimiter, '\t');
  EXPECT_EQ(back.load.npz_key, "x_train");
  EXPECT_EQ(back.load.scale, 1.0 / 255);
  EXPECT_TRUE(back.init_strict);
  EXPECT_TRUE(back.checkpoint_by_epochs);
  EXPECT_EQ(back.backend, run.backend);
  EXPECT_EQ(back.device, "cuda:1");
  // Pretty-printed, as --print-config writes it, reads the same.
  EXPECT_EQ(to_json(run_config_from_json(to_json(run, 2))), text);
}

TEST(RunConfig, DefaultsAreTheLibrarysDefaults) {
  const RunConfig run = run_config_from_json("{}");
  EXPECT_EQ(to_json(run.model), to_json(ModelConfig{}));
  const FitOptions fit;
  EXPECT_EQ(run.fit.epochs, fit.epochs);
  EXPECT_EQ(run.fit.batch_size, fit.batch_size);
  EXPECT_EQ(run.fit.shuffle, fit.shuffle);
  EXPECT_EQ(run.fit.eval_batch_size, fit.eval_batch_size);
  EXPECT_EQ(run.backend, BackendOptions{});
  EXPECT_EQ(run.device, "auto");
}

// Checkpoints of earlier versions stored the model's keys alone: they are a run configuration with
// default fit, device and backend sections. And a ModelConfig reads from a whole run's JSON.
TEST(RunConfig, ModelOnlyJsonIsARunWithDefaultsAndModelConfigReadsARun) {
  const RunConfig run = unusual_run();
  EXPECT_EQ(to_json(run_config_from_json(to_json(run.model)).model), to_json(run.model));
  EXPECT_EQ(to_json(model_config_from_json(to_json(run))), to_json(run.model));
}

TEST(RunConfig, ErrorsNameTheKeyPathAndTheSource) {
  EXPECT_THAT(message_of([] { run_config_from_json(R"({"fit": {"batch": 3}})", "a.json"); }),
              AllOf(HasSubstr("a.json"), HasSubstr("fit.batch"), HasSubstr("unknown key")));
  EXPECT_THAT(message_of([] { run_config_from_json(R"({"fit": {"load": {"raw_cols": "x"}}})", "a.json"); }),
              AllOf(HasSubstr("fit.load.raw_cols"), HasSubstr("must be an integer")));
  EXPECT_THAT(message_of([] { run_config_from_json(R"({"backend": {"forward": "magic"}})", "a.json"); }),
              AllOf(HasSubstr("backend.forward"), HasSubstr("fused, cublas, cudnn")));
  EXPECT_THAT(message_of([] { run_config_from_json(R"({"fit": {"batch_size": 0}})", "a.json"); }),
              AllOf(HasSubstr("a.json"), HasSubstr("batch size must be >= 1")));
  EXPECT_THAT(message_of([] { run_config_from_json(R"({"fit": {"checkpoint_unit": "hours"}})", "a.json"); }),
              HasSubstr("fit.checkpoint_unit"));
  EXPECT_THAT(message_of([] { run_config_from_json(R"({"device": "tpu"})", "a.json"); }), HasSubstr("device"));
  EXPECT_THAT(message_of([] { run_config_from_json(R"({"layers": [5]})", "a.json"); }),
              AllOf(HasSubstr("a.json"), HasSubstr("layers")));
  EXPECT_THAT(message_of([] { run_config_from_json("{", "a.json"); }), AllOf(HasSubstr("a.json"), HasSubstr("invalid JSON")));
}

// What a Model records of its run: its own config always, the last fit's options, the caller's rest.
TEST(RunConfig, TheModelRecordsItsRun) {
  ModelConfig config;
  config.layers = {9, 4};
  Model model(config);
  EXPECT_EQ(to_json(model.run_config().model), to_json(config));
  EXPECT_EQ(model.run_config().device, "cpu");
  RunConfig run = unusual_run();
  model.set_run_config(run);
  EXPECT_EQ(to_json(model.run_config().model), to_json(config)) << "the model part is the model's own";
  EXPECT_EQ(model.run_config().data, run.data);
  FitOptions fit;
  fit.epochs = 2;
  fit.batch_size = 5;
  model.fit(Dataset::from_floats(std::vector<float>(9 * 12, 0.5f), 12, 9, "halves"), fit);
  EXPECT_EQ(model.run_config().fit.epochs, 2);
  EXPECT_EQ(model.run_config().fit.batch_size, 5);
}

// apply_noise is the corruption training applies (kernels/common/noise.cuh): deterministic per
// (seed, step), a fraction P of zeros for mask:P, only 0/1 replacements for salt-pepper, Gaussian
// noise clipped to [0, 1] when asked.
TEST(ApplyNoise, DrawsTheTrainingCorruptionPerSeedAndStep) {
  const std::vector<float> clean(20000, 0.5f);
  std::vector<float> a(clean.size()), b(clean.size()), c(clean.size());
  apply_noise(parse_noise("mask:0.3"), 7, 3, true, clean, a);
  apply_noise(parse_noise("mask:0.3"), 7, 3, true, clean, b);
  apply_noise(parse_noise("mask:0.3"), 7, 4, true, clean, c);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  const auto zeros = static_cast<double>(std::count(a.begin(), a.end(), 0.0f));
  EXPECT_NEAR(zeros / static_cast<double>(a.size()), 0.3, 0.015);  // ~4.6 standard deviations
  EXPECT_EQ(zeros + static_cast<double>(std::count(a.begin(), a.end(), 0.5f)), static_cast<double>(a.size()));

  apply_noise(parse_noise("salt-pepper:0.2"), 7, 0, true, clean, a);
  for (float v : a) EXPECT_TRUE(v == 0 || v == 1 || v == 0.5f) << v;
  const auto replaced = static_cast<double>(std::count_if(a.begin(), a.end(), [](float v) { return v != 0.5f; }));
  EXPECT_NEAR(replaced / static_cast<double>(a.size()), 0.2, 0.015);

  apply_noise(parse_noise("gaussian:2"), 7, 0, true, clean, a);
  EXPECT_EQ(*std::min_element(a.begin(), a.end()), 0.0f);
  EXPECT_EQ(*std::max_element(a.begin(), a.end()), 1.0f);
  apply_noise(parse_noise("gaussian:2"), 7, 0, false, clean, b);
  EXPECT_LT(*std::min_element(b.begin(), b.end()), -1.0f);
  std::vector<float> wrong(3);
  EXPECT_THROW(apply_noise(parse_noise("mask:0.1"), 7, 0, true, clean, wrong), Error);
}

}  // namespace
}  // namespace cuae
