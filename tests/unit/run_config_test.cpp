// RunConfig, the one configuration grammar: round trips, defaults, what older files still read as,
// and errors that name the key and the source.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cuae/error.h"
#include "cuae/model.h"
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

}  // namespace
}  // namespace cuae
