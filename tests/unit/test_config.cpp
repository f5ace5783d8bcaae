#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "modelgif/config.hpp"
#include "modelgif/error.hpp"

using namespace modelgif;
using ::testing::HasSubstr;

namespace {

const char* const kMinimal = R"(
zoo:
  - {name: a, path: a.pt}
  - {name: b, path: b.pt}
references:
  source: refs.h5:/images
)";

std::string usage_error_of(const std::string& yaml, const std::vector<std::pair<std::string, std::string>>& ov = {}) {
  try {
    load_config(yaml, "test.yaml", ov);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Config, DefaultsFollowThePublishedConventions) {
  const auto c = load_config(kMinimal, "test.yaml");
  ASSERT_EQ(c.zoo.size(), 2u);
  EXPECT_EQ(c.zoo[1].name, "b");
  EXPECT_EQ(c.field.steps, 50);
  EXPECT_EQ(c.field.rule, QuadratureRule::GaussLegendre);
  EXPECT_EQ(c.field.target.str(), "predicted");
  EXPECT_EQ(c.baseline.kind, BaselineConfig::Kind::Zeros);
  EXPECT_TRUE(c.field.cumulative);
  EXPECT_TRUE(c.field.multiply_by_input);
  EXPECT_EQ(c.metrics, std::vector<Metric>{Metric::Cosine});
  EXPECT_EQ(c.refs.source, "refs.h5:/images");
}

TEST(Config, TheIssueExampleParsesAndOverridesWin) {
  const char* yaml = R"(
zoo:
  - name: source
    path: zoo/source.pt
references:
  source: refs.h5:/images
  labels: refs.h5:/labels
  count: 256
field:
  steps: 50
  method: gausslegendre
  target: predicted
  baseline: zeros
  reduce_channels: none
distance:
  metrics: [cosine, euclidean]
output:
  path: runs/out.h5
  store_fields: true
  field_dtype: float32
)";
  const auto c = load_config(yaml, "example.yaml",
                             {{"field.steps", "20"},
                              {"distance.metrics", "cosine,euclidean_frechet"},
                              {"field.baseline", "constant:0.5"},
                              {"field.target", "topk:1"}});
  EXPECT_EQ(c.field.steps, 20);
  EXPECT_EQ(c.refs.count, 256);
  EXPECT_TRUE(c.store_fields);
  EXPECT_EQ(c.metrics, (std::vector<Metric>{Metric::Cosine, Metric::EuclideanFrechet}));
  EXPECT_EQ(c.baseline.kind, BaselineConfig::Kind::Constant);
  EXPECT_DOUBLE_EQ(c.baseline.value, 0.5);
  EXPECT_EQ(c.field.target.kind, Target::Kind::TopK);
  // The resolved config is complete and reloads to itself.
  EXPECT_THAT(c.resolved_yaml, HasSubstr("steps: 20"));
  EXPECT_EQ(load_config(c.resolved_yaml, "resolved").resolved_yaml, c.resolved_yaml);
}

TEST(Config, UnknownKeysSuggestTheNearestValidKey) {
  const std::string e1 = usage_error_of(std::string(kMinimal) + "field:\n  stpes: 3\n");
  EXPECT_THAT(e1, HasSubstr("unknown key 'field.stpes'")) << e1;
  EXPECT_THAT(e1, HasSubstr("did you mean 'field.steps'")) << e1;
  const std::string e2 = usage_error_of(std::string(kMinimal) + "output:\n  store_field: true\n");
  EXPECT_THAT(e2, HasSubstr("output.store_fields")) << e2;
  const std::string e3 = usage_error_of(kMinimal, {{"field.stepz", "3"}});
  EXPECT_THAT(e3, HasSubstr("--field.steps")) << e3;
}

TEST(Config, DuplicateKeysWrongTypesAndBadValuesNameTheKey) {
  const std::string dup = usage_error_of(std::string(kMinimal) + "field:\n  steps: 3\n  steps: 4\n");
  EXPECT_THAT(dup, HasSubstr("duplicate key 'field.steps'")) << dup;
  const std::string type = usage_error_of(std::string(kMinimal) + "field:\n  steps: abc\n");
  EXPECT_THAT(type, HasSubstr("'field.steps': expected an integer, got 'abc'")) << type;
  const std::string boolean = usage_error_of(std::string(kMinimal) + "output:\n  store_fields: maybe\n");
  EXPECT_THAT(boolean, HasSubstr("'output.store_fields'")) << boolean;
  const std::string method = usage_error_of(std::string(kMinimal) + "field:\n  method: simpson\n");
  EXPECT_THAT(method, HasSubstr("field.method")) << method;
  EXPECT_THAT(method, HasSubstr("simpson")) << method;
  const std::string steps = usage_error_of(std::string(kMinimal) + "field:\n  steps: 1\n  method: riemann_left\n");
  EXPECT_THAT(steps, HasSubstr("field.steps")) << steps;
  const std::string metric = usage_error_of(std::string(kMinimal) + "distance:\n  metrics: [cosine, l1]\n");
  EXPECT_THAT(metric, HasSubstr("distance.metrics")) << metric;
  const std::string neg = usage_error_of(std::string(kMinimal) + "references:\n  count: -1\n");
  EXPECT_THAT(neg, HasSubstr("duplicate key 'references'")) << neg;  // the section is repeated
  const std::string dtype = usage_error_of(kMinimal, {{"output.field_dtype", "int8"}});
  EXPECT_THAT(dtype, HasSubstr("output.field_dtype")) << dtype;
  const std::string count = usage_error_of(kMinimal, {{"references.count", "-1"}});
  EXPECT_THAT(count, HasSubstr("'references.count': must be >= 0")) << count;
  const std::string baseline = usage_error_of(kMinimal, {{"field.baseline", "constant:x"}});
  EXPECT_THAT(baseline, HasSubstr("field.baseline")) << baseline;
  const std::string syntax = usage_error_of("zoo: [\n");
  EXPECT_THAT(syntax, HasSubstr("YAML syntax error")) << syntax;
}

TEST(Config, ZooEntriesAreChecked) {
  EXPECT_THAT(usage_error_of("references: {source: x}\n"), HasSubstr("'zoo' is empty"));
  EXPECT_THAT(usage_error_of("zoo: [{name: a}]\nreferences: {source: x}\n"), HasSubstr("missing 'path'"));
  EXPECT_THAT(usage_error_of("zoo: [{name: a, path: x.pt}, {name: a, path: y.pt}]\nreferences: {source: x}\n"),
              HasSubstr("'a' is used twice"));
  EXPECT_THAT(usage_error_of("zoo: [{name: a, path: x.pt, weights: 3}]\nreferences: {source: x}\n"),
              HasSubstr("unknown key 'zoo[1].weights' (did you mean 'zoo[1]."));
  // Name defaults to the file stem; --zoo replaces the list.
  const auto c = load_config("zoo: [{path: dir/net-1.pt}]\nreferences: {source: x}\n", "t");
  EXPECT_EQ(c.zoo[0].name, "net-1");
  const auto d = load_config(kMinimal, "t", {}, {"x=x.pt", "y=y.pt", "z=z.pt"});
  EXPECT_EQ(d.zoo.size(), 3u);
  EXPECT_EQ(d.zoo[2].path, "z.pt");
  EXPECT_THROW(load_config(kMinimal, "t", {}, {"novalue"}), UsageError);
}

TEST(Config, MissingFileIsAUsageErrorNamingIt) {
  try {
    load_config_file("/nonexistent/run.yaml");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("/nonexistent/run.yaml"));
  }
}

TEST(Config, TheReferencePageIsTheProgramsOwn) {
  // docs/configuration.md holds, between its markers, exactly what `modelgif config --reference`
  // prints: the page cannot drift from the KeySpec table.
  std::ifstream in(MODELGIF_SOURCE_DIR "/docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md not found";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string page = ss.str(), begin = "<!-- modelgif config --reference: begin -->\n",
                    end = "<!-- modelgif config --reference: end -->";
  const auto b = page.find(begin), e = page.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  EXPECT_EQ(page.substr(b + begin.size(), e - b - begin.size()), config_reference())
      << "replace the lines between the markers in docs/configuration.md with the output of "
         "`build/modelgif config --reference`";
  for (const auto& k : config_keys()) EXPECT_THAT(config_reference(), HasSubstr("| `" + k.key + "` |")) << k.key;
}

TEST(Config, ValuesAreCanonicalSoEqualSettingsFingerprintAlike) {
  const auto a = load_config(kMinimal, "t",
                             {{"field.cumulative", "yes"},
                              {"references.scale", "1e0"},
                              {"references.mean", "0.2860"},
                              {"references.std", "0.353"}});
  const auto b = load_config(kMinimal, "t",
                             {{"field.cumulative", "true"},
                              {"references.scale", "1.0"},
                              {"references.mean", "0.286"},
                              {"references.std", "0.3530"}});
  EXPECT_EQ(a.resolved_yaml, b.resolved_yaml);
  EXPECT_THAT(a.resolved_yaml, HasSubstr("cumulative: true"));
  EXPECT_THAT(a.resolved_yaml, HasSubstr("scale: 1.0"));
  EXPECT_THAT(a.resolved_yaml, HasSubstr("- 0.286"));
  // A list item the command line cannot read is a usage error naming the key, not an internal one.
  EXPECT_THAT(usage_error_of(kMinimal, {{"distance.metrics", "cosine,[x"}}),
              HasSubstr("key 'distance.metrics': cannot read '[x' as a list item"));
}

// One spelling per key: every row sets its member of RunConfig (field.preset
// sets other keys' values instead, before the rows are applied).
TEST(Config, EveryKeySetsAMember) {
  for (const auto& k : config_keys())
    if (k.key != "field.preset") EXPECT_TRUE(static_cast<bool>(k.set)) << k.key << " sets nothing";
}

// A row's setter reads its own value only: the table's order does not matter
// (field.baseline and field.seed both fill the baseline).
TEST(Config, RowsSetTheirMembersInAnyOrder) {
  const auto row = [](const std::string& key) {
    for (const auto& k : config_keys())
      if (k.key == key) return k;
    throw std::logic_error("no row " + key);
  };
  KeyValue shuffle, seed;
  shuffle.text = "shuffle";
  seed.text = "7";
  RunConfig seed_first, baseline_first;
  row("field.seed").set(seed_first, seed);
  row("field.baseline").set(seed_first, shuffle);
  row("field.baseline").set(baseline_first, shuffle);
  row("field.seed").set(baseline_first, seed);
  for (const RunConfig* c : {&seed_first, &baseline_first}) {
    EXPECT_EQ(c->baseline.kind, BaselineConfig::Kind::Shuffle);
    EXPECT_EQ(c->baseline.seed, 7u);
  }
  const auto loaded = load_config(kMinimal, "t", {{"field.baseline", "shuffle"}, {"field.seed", "7"}});
  EXPECT_EQ(loaded.baseline.seed, 7u);
}
