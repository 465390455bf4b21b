// Dataset::value_range (one pass, cached for the copies of a set) and check_bce_targets, the check
// the Model runs before binary cross-entropy: pixels in 0..255, standardised data, NaN and a pandas
// index column all train BCE to nonsense, so each must be refused with the file, the range and the
// fix; data in [0, 1] must pass, a uint8 set without reading a byte.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <thread>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "support/error_message.h"
#include "support/reference.h"
#include "unit/loader_files.h"

namespace cuae {
namespace {

using namespace cuae::test;  // NOLINT: the shared loader-test helpers
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint64_t kSeed = 4242;

// Storage that counts how often its bytes are asked for, to see which calls read the data.
class CountingStorage final : public DatasetStorage {
 public:
  explicit CountingStorage(std::vector<std::byte> bytes) : bytes_(std::move(bytes)) {}
  const void* data() const override {
    ++reads;
    return bytes_.data();
  }
  size_t size_bytes() const override { return bytes_.size(); }
  mutable std::atomic<int> reads{0};

 private:
  std::vector<std::byte> bytes_;
};

template <typename T>
std::shared_ptr<CountingStorage> counting(const std::vector<T>& values) {
  std::vector<std::byte> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return std::make_shared<CountingStorage>(std::move(bytes));
}

Dataset floats(std::vector<float> values, int64_t cols, std::string name = "x.npy") {
  const auto rows = static_cast<int64_t>(values.size()) / cols;
  return Dataset::from_floats(std::move(values), rows, cols, std::move(name));
}

TEST(ValueRange, IsTheMinimumAndMaximumOfOddSizedRandomData) {
  SCOPED_TRACE(kSeed);
  std::vector<float> values = ref::random_floats(37 * 13, kSeed, -3, 5);
  values[101] = -3.5f;
  values[400] = 5.5f;
  const ValueRange r = floats(values, 13).value_range();
  EXPECT_EQ(r.min, -3.5f);
  EXPECT_EQ(r.max, 5.5f);
  EXPECT_TRUE(r.finite);
}

TEST(ValueRange, IgnoresNaNForMinAndMaxButFlagsItAndInf) {
  std::vector<float> values = ref::random_floats(7 * 5, kSeed, 0.25f, 0.75f);
  values[3] = std::numeric_limits<float>::quiet_NaN();
  values[0] = 0.125f;
  ValueRange r = floats(values, 5).value_range();
  EXPECT_FALSE(r.finite);
  EXPECT_EQ(r.min, 0.125f);
  EXPECT_LE(r.max, 0.75f);
  values[9] = -std::numeric_limits<float>::infinity();
  r = floats(values, 5).value_range();
  EXPECT_FALSE(r.finite);
  EXPECT_EQ(r.min, -std::numeric_limits<float>::infinity());
  const ValueRange only_nan = floats({std::numeric_limits<float>::quiet_NaN()}, 1).value_range();
  EXPECT_FALSE(only_nan.finite);
}

TEST(ValueRange, OfUint8IsInTheUnitsTheValuesAreReadIn) {
  const ValueRange r = Dataset::from_bytes({7, 255, 51, 3, 9, 200}, 2, 3, "u.idx").value_range();
  EXPECT_EQ(r.min, 3.0f / 255.0f);
  EXPECT_EQ(r.max, 1.0f);
  EXPECT_TRUE(r.finite);
}

TEST(ValueRange, OfAnEmptySetIsZeroToZero) {
  const ValueRange r = Dataset::from_floats({}, 0, 4, "e.csv").value_range();
  EXPECT_EQ(r.min, 0.0f);
  EXPECT_EQ(r.max, 0.0f);
  EXPECT_TRUE(r.finite);
  EXPECT_TRUE(Dataset().value_range().finite);
}

TEST(ValueRange, IsComputedOnceForASetAndItsCopiesButPerSlice) {
  const std::vector<float> values = ref::random_floats(11 * 3, kSeed, 0, 1);
  const auto storage = counting(values);
  const Dataset d(storage, 0, DType::f32, 11, 3, "mapped.npy");
  const int before = storage->reads;
  const ValueRange first = d.value_range();
  const int after_first = storage->reads;
  EXPECT_GT(after_first, before);
  const Dataset copy = d;  // NOLINT(performance-unnecessary-copy-initialization): the copy is the point
  EXPECT_EQ(copy.value_range().max, first.max);
  EXPECT_EQ(d.value_range().min, first.min);
  EXPECT_EQ(storage->reads, after_first);  // no second pass
  const Dataset tail = d.slice(8, 3);
  const ValueRange r = tail.value_range();
  EXPECT_EQ(r.max, *std::max_element(values.begin() + 24, values.end()));
  EXPECT_EQ(r.min, *std::min_element(values.begin() + 24, values.end()));
}

TEST(ValueRange, ConcurrentFirstCallsAgree) {
  const Dataset d = floats(ref::random_floats(301 * 7, kSeed, -1, 2), 7);
  std::vector<ValueRange> seen(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < seen.size(); ++t) threads.emplace_back([&, t] { seen[t] = d.value_range(); });
  for (std::thread& t : threads) t.join();
  for (const ValueRange& r : seen) {
    EXPECT_EQ(r.min, seen[0].min);
    EXPECT_EQ(r.max, seen[0].max);
  }
}

// ---- check_bce_targets ----

TEST(BceTargets, ValuesInTheUnitIntervalPass) {
  EXPECT_NO_THROW(check_bce_targets(floats(ref::random_floats(9 * 4, kSeed, 0, 1), 4), "train"));
  EXPECT_NO_THROW(check_bce_targets(floats({0, 1, 0.5f, 1.0000001f}, 2), "train"));  // rounding of a 1/255 scale
  EXPECT_NO_THROW(check_bce_targets(Dataset::from_floats({}, 0, 3, "empty"), "train"));
}

TEST(BceTargets, Uint8SetPassesWithoutReadingItsValues) {
  const auto storage = counting(std::vector<uint8_t>{0, 255, 17, 3});
  const Dataset d(storage, 0, DType::u8, 2, 2, "u.idx");
  const int before = storage->reads;
  EXPECT_NO_THROW(check_bce_targets(d, "train"));
  EXPECT_EQ(storage->reads, before);
}

TEST(BceTargets, PixelsIn0To255AreRefusedWithRangeFileAndFix) {
  const std::string message = message_of<DataError>([] {
    check_bce_targets(floats({0, 17, 255, 128, 3, 9}, 3, "data/x.npy"), "train");
  });
  EXPECT_THAT(message, AllOf(HasSubstr("train: binary cross-entropy needs targets in [0, 1]"), HasSubstr("data/x.npy"),
                             HasSubstr("from 0 to 255"), HasSubstr("divide them by 255"), HasSubstr("--value-scale"),
                             HasSubstr("--loss mse")));
}

TEST(BceTargets, NegativeOrLargeValuesAreRefusedWithRescaleAdvice) {
  const std::string message = message_of<DataError>([] {
    check_bce_targets(floats({-1.25f, 0.5f, 3.75f, 0}, 2, "z.csv"), "evaluate");
  });
  EXPECT_THAT(message, AllOf(HasSubstr("evaluate:"), HasSubstr("z.csv"), HasSubstr("from -1.25 to 3.75"),
                             HasSubstr("rescale them into [0, 1]"), HasSubstr("--loss mse"),
                             Not(HasSubstr("divide them by 255"))));
  EXPECT_THROW(check_bce_targets(floats({0, 1.01f}, 2), "train"), DataError);
  EXPECT_THROW(check_bce_targets(floats({-0.01f, 1}, 2), "train"), DataError);
}

TEST(BceTargets, NonFiniteValuesAreRefused) {
  const std::string message = message_of<DataError>([] {
    check_bce_targets(floats({0.5f, std::numeric_limits<float>::quiet_NaN()}, 2, "n.npy"), "train");
  });
  EXPECT_THAT(message, AllOf(HasSubstr("n.npy"), HasSubstr("NaN or Inf"), HasSubstr("--drop-non-finite")));
}

// The cases of issue 19, with files written by the real tools.
TEST(BceTargets, FilesUsersHaveAreCaughtAfterLoading) {
  const Dataset pixels = load_dataset(fixture("npy/pixels_f4_0_255_4x3.npy").string());
  EXPECT_THAT(message_of<DataError>([&] { check_bce_targets(pixels, "train"); }),
              AllOf(HasSubstr("pixels_f4_0_255_4x3.npy"), HasSubstr("from 0 to 253"), HasSubstr("divide them by 255")));
  const Dataset csv_pixels = load_dataset(fixture("csv/pixels_0_255.csv").string());
  EXPECT_THAT(message_of<DataError>([&] { check_bce_targets(csv_pixels, "train"); }), HasSubstr("from 0 to 253"));
  LoadOptions scale;
  scale.scale = 1.0 / 255;
  EXPECT_NO_THROW(check_bce_targets(load_dataset(fixture("csv/pixels_0_255.csv").string(), scale), "train"));
  // A label column read as a feature (a named first column is data unless --csv-skip-cols says
  // otherwise) pushes the range past 1.
  const Dataset labelled = load_dataset(fixture("csv/pandas_label_column.csv").string());
  EXPECT_THAT(message_of<DataError>([&] { check_bce_targets(labelled, "train"); }),
              AllOf(HasSubstr("pandas_label_column.csv"), HasSubstr("from -3 to 7")));
}

}  // namespace
}  // namespace cuae
