// The table loader (inputs/rows.hpp) on a table of its own: defaults come
// from the rows, given keys are reported, unknown keys get the nearest key,
// values are checked against their rules, and parts come back whole.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "inputs/rows.hpp"
#include "modelgif/error.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;

namespace {

struct Settings {
  int64_t count = -1;
  double rate = -1;
  std::string name = "unset";
  std::vector<std::string> tags = {"unset"};
  bool on = false;
};

using Row = KeyRow<Settings>;
using Kind = KeyRule::Kind;

const std::vector<Row>& table() {
  static const std::vector<Row> r = {
      Row("limits.count", Kind::Int, "3", "how many").at_least(1).at_most(10).sets([](Settings& t, const KeyValue& v) {
        t.count = v.integer();
      }),
      Row("limits.rate", Kind::Double, "0.5", "how fast").above(0).sets([](Settings& t, const KeyValue& v) {
        t.rate = v.number();
      }),
      Row("name", Kind::String, "anonymous", "what it is called").non_empty().sets([](Settings& t, const KeyValue& v) {
        t.name = v.text;
      }),
      Row("tags", Kind::StringList, "[]", "labels").distinct().sets([](Settings& t, const KeyValue& v) {
        t.tags = v.items;
      }),
      Row("on", Kind::Bool, "false", "switched on").sets([](Settings& t, const KeyValue& v) { t.on = v.boolean(); }),
  };
  return r;
}

rows::Loaded load(const std::string& text, Settings& t, const std::vector<std::string>& parts = {}) {
  const auto doc = yaml::Document::parse(text, "table", "t.yaml");
  return rows::load_rows(doc, doc.root(), table(), t, parts);
}

std::string error_of(const std::string& text, const std::vector<std::string>& parts = {}) {
  return testsupport::message_of<UsageError>([&] {
    Settings t;
    load(text, t, parts);
  });
}

}  // namespace

TEST(Rows, DefaultsComeFromTheRowsAndGivenKeysAreReported) {
  Settings t;
  const auto loaded = load("limits: {rate: 2}\non: yes\n", t);
  EXPECT_EQ(t.count, 3);
  EXPECT_EQ(t.rate, 2.0);
  EXPECT_EQ(t.name, "anonymous");
  EXPECT_TRUE(t.tags.empty());
  EXPECT_TRUE(t.on);
  EXPECT_EQ(loaded.given, (std::set<std::string>{"limits.rate", "on"}));
  EXPECT_TRUE(loaded.parts.empty());
}

TEST(Rows, AnUnknownKeyGetsTheNearestKeyPartOrSection) {
  EXPECT_EQ(error_of("limits: {cuont: 2}\n"),
            "table t.yaml: unknown key 'limits.cuont' (did you mean 'limits.count'?)");
  EXPECT_EQ(error_of("limts: {count: 2}\n"), "table t.yaml: unknown key 'limts' (did you mean 'limits'?)");
  EXPECT_EQ(error_of("matirx: [[1]]\n", {"matrix"}), "table t.yaml: unknown key 'matirx' (did you mean 'matrix'?)");
  // A table below a prefix names its keys in full.
  const auto doc = yaml::Document::parse("items: [{nmae: x}]\n", "table", "t.yaml");
  Settings t;
  EXPECT_EQ(testsupport::message_of<UsageError>(
                [&] { rows::load_rows(doc, doc.root()["items"][0], table(), t, {}, "items[1]"); }),
            "table t.yaml: unknown key 'items[1].nmae' (did you mean 'items[1].name'?)");
}

TEST(Rows, ValuesAreCheckedAgainstTheirRules) {
  EXPECT_EQ(error_of("limits: {count: 0}\n"), "table t.yaml: key 'limits.count': must be >= 1, got 0");
  EXPECT_EQ(error_of("limits: {count: 11}\n"), "table t.yaml: key 'limits.count': at most 10, got 11");
  EXPECT_EQ(error_of("limits: {rate: 0}\n"), "table t.yaml: key 'limits.rate': must be > 0, got 0");
  EXPECT_EQ(error_of("limits: {rate: .inf}\n"), "table t.yaml: key 'limits.rate': must be a finite number, got .inf");
  EXPECT_EQ(error_of("limits: {count: abc}\n"), "table t.yaml: key 'limits.count': expected an integer, got 'abc'");
  EXPECT_EQ(error_of("on: maybe\n"), "table t.yaml: key 'on': expected true or false, got 'maybe'");
  EXPECT_EQ(error_of("name: {x: 1}\n"), "table t.yaml: key 'name': expected a string, got a mapping");
  EXPECT_EQ(error_of("tags: [a, [b]]\n"),
            "table t.yaml: key 'tags': expected a list of strings, got a list holding a list");
  EXPECT_EQ(error_of("tags: [a, b, a]\n"), "table t.yaml: key 'tags': 'a' listed twice");
  EXPECT_EQ(error_of("name: ''\n"), "table t.yaml: key 'name': is required: what it is called");
  EXPECT_EQ(error_of("limits: 3\n"), "table t.yaml: key 'limits' must be a mapping (of count, rate), got '3'");
  EXPECT_EQ(error_of("- a\n"), "table t.yaml: the top level must be a mapping (of limits, name, tags, on), got a list");
  // In a file a list is a YAML list: "a,b" is one string, not two items.
  EXPECT_EQ(error_of("tags: a,b\n"), "table t.yaml: key 'tags': expected a list of strings, got 'a,b'");
}

TEST(Rows, PartsComeBackWholeAndListsFromTextOnlyWhenAsked) {
  Settings t;
  const auto loaded = load("matrix: [[1, 2], [3, 4]]\nname: m\n", t, {"matrix"});
  ASSERT_NE(loaded.part("matrix"), nullptr);
  EXPECT_EQ(loaded.part("matrix")->size(), 2u);
  EXPECT_EQ(loaded.part("other"), nullptr);
  EXPECT_EQ(loaded.given, std::set<std::string>{"name"});
  // The command line's way of writing a list, and every value canonical.
  const KeyRule& tags = table()[3];
  const YAML::Node list = rows::check_value(tags, YAML::Node("a,b"), "command line", "tags", true);
  ASSERT_TRUE(list.IsSequence());
  EXPECT_EQ(list.size(), 2u);
  EXPECT_EQ(rows::check_value(table()[4], YAML::Node("yes"), "command line", "on", false).Scalar(), "true");
  EXPECT_EQ(rows::check_value(table()[1], YAML::Node("1e0"), "command line", "limits.rate", false).Scalar(), "1.0");
}
