// The CSV loader: numbers as spreadsheets write them (hand-written files) and as pandas' to_csv
// writes them (tests/data/csv, make_fixtures.py): quoted fields, index columns, other delimiters,
// NaN as empty cells. Errors point at file:line:column.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "support/error_message.h"
#include "support/reference.h"
#include "support/tolerances.h"
#include "unit/loader_files.h"

namespace cuae {
namespace {

using namespace cuae::test;  // NOLINT: the shared loader-test helpers
using ::testing::AllOf;
using ::testing::HasSubstr;

LoadOptions with_header(bool header) {
  LoadOptions options;
  options.csv_header = header;
  return options;
}

using CsvLoader = LoaderTest;

TEST_F(CsvLoader, ReadsNumbersWithoutHeader) {
  write_bytes(file("a.csv"), "1.5,-2,3e-2\n 4 , +5.25,6\r\n\n7,8,9\n");
  const Dataset d = load_csv(file("a.csv"));
  EXPECT_EQ(d.rows(), 3);
  EXPECT_EQ(d.cols(), 3);
  const std::vector<double> expected{1.5, -2, 3e-2, 4, 5.25, 6, 7, 8, 9};
  EXPECT_LE(ref::relative_error(rows_of(d), expected), tol::kElementwise);
}

TEST_F(CsvLoader, SkipsTextHeaderWithOrWithoutTheFlag) {
  write_bytes(file("h.csv"), "x0,x1\n0.25,0.5\n0.75,1\n");
  EXPECT_EQ(load_csv(file("h.csv"), with_header(false)).rows(), 2);
  EXPECT_EQ(load_csv(file("h.csv"), with_header(true)).rows(), 2);
  write_bytes(file("numeric_header.csv"), "10,20\n0.25,0.5\n");  // the flag drops even a numeric first line
  EXPECT_EQ(load_csv(file("numeric_header.csv"), with_header(true)).rows(), 1);
  EXPECT_EQ(load_csv(file("numeric_header.csv"), with_header(false)).rows(), 2);
}

TEST_F(CsvLoader, RejectsNonNumericCellAtLineAndColumn) {
  write_bytes(file("bad.csv"), "1,2,3\n4,5,6\n7,oops,9\n");
  EXPECT_THAT(message_of<IoError>([&] { load_csv(file("bad.csv")); }),
              AllOf(HasSubstr("bad.csv:3:3"), HasSubstr("'oops' is not a number")));
}

TEST_F(CsvLoader, RejectsRowsOfDifferentWidth) {
  write_bytes(file("ragged.csv"), "1,2,3\n4,5\n");
  EXPECT_THAT(message_of<IoError>([&] { load_csv(file("ragged.csv")); }),
              AllOf(HasSubstr("ragged.csv:2"), HasSubstr("2 fields, earlier rows have 3")));
}

TEST_F(CsvLoader, RejectsFileWithoutData) {
  write_bytes(file("empty.csv"), "a,b\n\n");
  EXPECT_THAT(message_of<IoError>([&] { load_csv(file("empty.csv")); }), HasSubstr("no data rows"));
}

TEST_F(CsvLoader, QuotedFieldsMayHoldDelimitersAndQuotes) {
  write_bytes(file("q.csv"), "\"width, cm\",\"say \"\"hi\"\"\"\n \"1.5\" , \"2\"\n3,\"4e1\"\n");
  EXPECT_EQ(rows_of(load_csv(file("q.csv"))), (std::vector<float>{1.5f, 2, 3, 40}));
}

TEST_F(CsvLoader, MalformedQuotesPointAtTheCell) {
  write_bytes(file("open.csv"), "1,2\n3,\"4\n");
  EXPECT_THAT(message_of<IoError>([&] { load_csv(file("open.csv")); }),
              AllOf(HasSubstr("open.csv:2:3"), HasSubstr("unterminated quoted field")));
  write_bytes(file("after.csv"), "1,2\n3,\"4\"x\n");
  EXPECT_THAT(message_of<IoError>([&] { load_csv(file("after.csv")); }),
              AllOf(HasSubstr("after.csv:2:6"), HasSubstr("text after a closing quote")));
}

TEST_F(CsvLoader, SkipColumnsDropsLeadingLabelsAndChecksWhatRemains) {
  write_bytes(file("l.csv"), "id,x,y\n7,0.5,0.25\n9,1,2\n");
  LoadOptions options;
  options.csv_skip_cols = 1;
  EXPECT_EQ(rows_of(load_csv(file("l.csv"), options)), (std::vector<float>{0.5f, 0.25f, 1, 2}));
  options.csv_skip_cols = 3;
  EXPECT_THAT(message_of<IoError>([&] { load_csv(file("l.csv"), options); }),
              AllOf(HasSubstr("l.csv:2"), HasSubstr("none left after skipping 3 columns")));
}

TEST_F(CsvLoader, WrongDelimiterIsSuggestedInTheError) {
  write_bytes(file("semi.csv"), "a;b\n1;2\n");
  EXPECT_THAT(message_of<IoError>([&] { load_csv(file("semi.csv")); }),
              AllOf(HasSubstr("'1;2' is not a number"), HasSubstr("separated by ';'"), HasSubstr("--csv-delimiter")));
  LoadOptions options;
  options.csv_delimiter = '"';
  EXPECT_THAT(message_of<IoError>([&] { load_csv(file("semi.csv"), options); }), HasSubstr("delimiter cannot be"));
}

TEST_F(CsvLoader, HeaderlessIndexColumnIsNotedButKept) {
  write_bytes(file("i.csv"), "0,0.5,0.25\n1,0.5,0.75\n2,0.125,1\n");
  Notes notes;
  LoadOptions options;
  options.note = notes.sink();
  EXPECT_EQ(load_csv(file("i.csv"), options).cols(), 3);
  EXPECT_THAT(notes.all(),
              AllOf(HasSubstr("i.csv"), HasSubstr("first column counts 0, 1, 2"), HasSubstr("--csv-skip-cols 1")));
}

// ---- files written by pandas (tests/data/csv) ----

Dataset load_pandas(const std::string& name, Notes& notes, LoadOptions options = {}) {
  options.note = notes.sink();
  return load_csv(fixture("csv/" + name), options);
}

TEST(CsvFromPandas, DefaultToCsvIndexColumnIsRecognisedAndDropped) {
  Notes notes;
  const Dataset d = load_pandas("pandas_index.csv", notes);
  EXPECT_EQ(d.rows(), 4);
  EXPECT_EQ(d.cols(), 3);
  EXPECT_EQ(rows_of(d), arange_values(12));
  EXPECT_THAT(notes.all(), AllOf(HasSubstr("pandas_index.csv"), HasSubstr("dropped 1 leading index column"),
                                 HasSubstr("index=False")));
}

TEST(CsvFromPandas, DefaultNumberedColumnNamesAreAHeader) {
  Notes notes;
  EXPECT_EQ(rows_of(load_pandas("pandas_range_columns.csv", notes)), arange_values(12));
  Notes no_index;
  EXPECT_EQ(rows_of(load_pandas("pandas_range_columns_no_index.csv", no_index)), arange_values(12));
  EXPECT_THAT(no_index.all(), HasSubstr("pandas' default column names 0, 1, 2"));
}

TEST(CsvFromPandas, QuoteAllAndQuoteNonnumericAreRead) {
  Notes notes;
  EXPECT_EQ(rows_of(load_pandas("pandas_quote_all.csv", notes)), arange_values(12));
  EXPECT_THAT(notes.all(), HasSubstr("dropped 1 leading index column"));
  Notes none;
  EXPECT_EQ(rows_of(load_pandas("pandas_quote_nonnumeric.csv", none)), arange_values(12));
  EXPECT_TRUE(none.seen.empty()) << none.all();
}

TEST(CsvFromPandas, OtherDelimitersAreReadWhenNamed) {
  Notes notes;
  LoadOptions semicolon;
  semicolon.csv_delimiter = ';';
  EXPECT_EQ(rows_of(load_pandas("pandas_semicolon.csv", notes, semicolon)), arange_values(12));
  LoadOptions tab;
  tab.csv_delimiter = '\t';
  EXPECT_EQ(rows_of(load_pandas("pandas_tab.csv", notes, tab)), arange_values(12));
}

TEST(CsvFromPandas, LeadingLabelColumnIsSkippedOnRequest) {
  Notes notes;
  EXPECT_EQ(load_pandas("pandas_label_column.csv", notes).cols(), 4);  // a named column is data
  LoadOptions skip;
  skip.csv_skip_cols = 1;
  EXPECT_EQ(rows_of(load_pandas("pandas_label_column.csv", notes, skip)), arange_values(12));
}

TEST(CsvFromPandas, ReadAndSavedAgainItHasTwoIndexColumnsBothDropped) {
  Notes notes;
  EXPECT_EQ(rows_of(load_pandas("pandas_reread.csv", notes)), arange_values(12));  // ",Unnamed: 0,a,b,c"
  EXPECT_THAT(notes.all(), HasSubstr("dropped 2 leading index columns"));
}

TEST(CsvFromPandas, NaNWrittenAsAnEmptyCellIsRefusedOrDroppedByLoadDataset) {
  const std::string path = fixture("csv/pandas_nan.csv").string();
  EXPECT_THAT(message_of<IoError>([&] { load_dataset(path); }),
              AllOf(HasSubstr("pandas_nan.csv"), HasSubstr("row 2 (0-based)"), HasSubstr("empty CSV cell")));
  LoadOptions drop;
  drop.drop_non_finite = true;
  const Dataset d = load_dataset(path, drop);
  EXPECT_EQ(d.rows(), 3);
  const std::vector<float> all = arange_values(12);
  std::vector<float> expected(all.begin(), all.begin() + 6);
  expected.insert(expected.end(), all.begin() + 9, all.end());
  EXPECT_EQ(rows_of(d), expected);
}

}  // namespace
}  // namespace cuae
