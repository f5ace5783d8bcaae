// The one strict YAML loader (inputs/strict_yaml.hpp), as every file kind
// meets it: run configs, sweeps, testbed configs and roles refuse duplicate
// keys at any depth and unknown keys with the nearest one, in one wording.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "analysis/eval.hpp"
#include "analysis/sweep.hpp"
#include "inputs/strict_yaml.hpp"
#include "modelgif/config.hpp"
#include "modelgif/error.hpp"
#include "support/models.hpp"
#include "testbeds/testbed.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

std::string usage_error(const std::function<void()>& fn) { return testsupport::message_of<UsageError>(fn); }

std::string file_with(const std::string& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir + "/" + name) << text;
  return dir + "/" + name;
}

}  // namespace

TEST(StrictYaml, DuplicateKeysAreRefusedAtAnyDepth) {
  for (const char* text : {"a: 1\na: 2\n", "a: {b: 1, b: 2}\n", "a:\n  - {c: 1, c: 2}\n"}) {
    const std::string e = usage_error([&] { yaml::Document::parse(text, "config", "x.yaml"); });
    EXPECT_THAT(e, StartsWith("config x.yaml: duplicate key '")) << text;
  }
  EXPECT_THAT(usage_error([&] { yaml::Document::parse("a: [1\n", "roles", "r.yaml"); }),
              HasSubstr("roles r.yaml: YAML syntax error at line"));
}

TEST(StrictYaml, ConversionsNameTheKeyWhatWasExpectedAndWhatWasFound) {
  const auto doc = yaml::Document::parse("l: [1, [2]]\ns: {x: 1}\nt: [a, {b: 1}]\n", "zoo config", "z.yaml");
  const auto& r = doc.root();
  EXPECT_EQ(usage_error([&] { doc.numbers(r["l"], "l"); }),
            "zoo config z.yaml: key 'l': expected a list of numbers, got a list holding a list");
  EXPECT_EQ(usage_error([&] { doc.string(r["s"], "s"); }),
            "zoo config z.yaml: key 's': expected a string, got a mapping");
  EXPECT_EQ(usage_error([&] { doc.strings(r["t"], "t"); }),
            "zoo config z.yaml: key 't': expected a list of strings, got a list holding a mapping");
  EXPECT_EQ(doc.string(r["missing"], "missing"), "");
  EXPECT_TRUE(doc.strings(r["missing"], "missing").empty());
}

TEST(StrictYaml, EveryFileKindSuggestsTheNearestKeyInOneWording) {
  const std::string dir = testsupport::temp_dir("strict-yaml");
  const std::string base = file_with(dir, "base.yaml", "zoo: [{name: a, path: a.pt}]\nreferences: {source: r.h5:/x}\n");
  struct Case {
    std::string kind;
    std::function<void(const std::string&)> load;
    std::string text, unknown, nearest;
  };
  const std::vector<Case> cases = {
      {"config", [](const std::string& p) { load_config_file(p); }, "zoo: []\nrefernces: {source: x}\n", "refernces",
       "references"},
      {"sweep", [](const std::string& p) { load_sweep(p); }, "sweep: {base: " + base + ", dri: x}\n", "sweep.dri",
       "sweep.dir"},
      {"zoo config", [](const std::string& p) { load_testbed(p); }, "testbed: unlearning\ndir: x\nstep: 3\n", "step",
       "steps"},
      {"roles", [](const std::string& p) { load_roles(p); }, "unlearning:\n  refrence: a\n", "unlearning.refrence",
       "unlearning.reference"},
  };
  for (const auto& c : cases) {
    const std::string path = file_with(dir, "f.yaml", c.text);
    const std::string e = usage_error([&] { c.load(path); });
    EXPECT_EQ(e, c.kind + " " + path + ": unknown key '" + c.unknown + "' (did you mean '" + c.nearest + "'?)");
    const std::string dup = file_with(dir, "d.yaml", c.text + c.text);
    EXPECT_THAT(usage_error([&] { c.load(dup); }), StartsWith(c.kind + " " + dup + ": duplicate key '")) << c.kind;
  }
}
