// The testbed configs (`modelgif zoo`): the shipped ones load, the
// relatedness testbed has the tasks the issue asks for, and bad configs get
// one clear message naming the key or the task.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "modelgif/error.hpp"
#include "support/models.hpp"
#include "testbeds/testbed.hpp"
#include "testbeds/zoos.hpp"

using namespace modelgif;
using ::testing::HasSubstr;

namespace {

std::string usage_error_of(const std::string& text) {
  const std::string path = testsupport::temp_dir("testbed") + "/zoo.yaml";
  std::ofstream(path) << text;
  try {
    load_testbed(path);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no error";
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST(Testbed, ShippedConfigsLoad) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string(MODELGIF_SOURCE_DIR) + "/configs")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("testbed-", 0) != 0) continue;
    const auto c = load_testbed(e.path().string());
    EXPECT_FALSE(c.dir.empty()) << name;
    EXPECT_EQ(c.testbed == "relatedness", !c.tasks.empty()) << name;
    ++n;
  }
  EXPECT_EQ(n, 7);  // fingerprint, unlearning, relatedness (each also -small), relatedness-shared-init
}

TEST(Testbed, RelatednessHasAtLeastEightTasksOfTheKindsAsked) {
  const auto all = relatedness_tasks();
  EXPECT_GE(all.size(), 8u);
  for (const char* t : {"class10", "class5", "class2", "autoencode", "denoise", "rotation", "flip", "segment", "edges"})
    EXPECT_TRUE(has(all, t)) << t;
  const auto c = load_testbed(std::string(MODELGIF_SOURCE_DIR) + "/configs/testbed-relatedness.yaml");
  EXPECT_EQ(c.tasks, all);
  // Without 'tasks', all of them; with it, the ones named in that order.
  const std::string dir = testsupport::temp_dir("testbed");
  std::ofstream(dir + "/a.yaml") << "testbed: relatedness\ndir: x\n";
  EXPECT_EQ(load_testbed(dir + "/a.yaml").tasks, all);
  std::ofstream(dir + "/b.yaml") << "testbed: relatedness\ndir: x\ntasks: [edges, class2, flip]\n";
  EXPECT_EQ(load_testbed(dir + "/b.yaml").tasks, (std::vector<std::string>{"edges", "class2", "flip"}));
}

TEST(Testbed, BadConfigsNameTheKeyOrTask) {
  EXPECT_THAT(usage_error_of("testbed: relatedness\ndir: x\ntasks: [class10, depth]\n"),
              HasSubstr("unknown task 'depth'"));
  EXPECT_THAT(usage_error_of("testbed: relatedness\ndir: x\ncounts: {negatives: 3}\n"), HasSubstr("'counts'"));
  EXPECT_THAT(usage_error_of("testbed: relatedness\ndir: x\ntasks: [class10, flip]\n"), HasSubstr("at least 3"));
  EXPECT_THAT(usage_error_of("testbed: relatedness\ndir: x\ntasks: [flip, class2, flip]\n"),
              HasSubstr("key 'tasks': 'flip' listed twice"));
  EXPECT_THAT(usage_error_of("testbed: relatedness\ndir: x\ntasks: []\n"), HasSubstr("'tasks' is empty"));
  EXPECT_THAT(usage_error_of("testbed: relatedness\ndir: x\ntasks: [[a]]\n"),
              HasSubstr("key 'tasks': expected a list of strings, got a list holding a list"));
  EXPECT_THAT(usage_error_of("testbed: relatedness\ndir: x\nforget_class: 3\n"),
              HasSubstr("'forget_class' is only for"));
  EXPECT_THAT(usage_error_of("testbed: fingerprinting\ndir: x\ncounts: {negatives: 3}\ntasks: [flip]\n"),
              HasSubstr("'tasks' is only for the relatedness"));
  EXPECT_THAT(usage_error_of("testbed: unlearning\ndir: x\ncounts: {direct: 1, approximate: 1, unrelated: 1}\n"
                             "shared_init: true\n"),
              HasSubstr("'shared_init' is only for the relatedness"));
  EXPECT_THAT(usage_error_of("testbed: relatedness\ndir: x\nshared_init: maybe\n"),
              HasSubstr("key 'shared_init': expected true or false, got 'maybe'"));
  EXPECT_THAT(usage_error_of("testbed: taskonomy\ndir: x\n"), HasSubstr("fingerprinting, unlearning or relatedness"));
  EXPECT_THAT(usage_error_of("testbed: relatedness\ndir: x\nepochs: 3\n"), HasSubstr("unknown key 'epochs'"));
}

// Every model of a classifier zoo starts from a seed no other model has:
// the fields of these small models carry their initialization, so a shared
// seed would make two models look related for that reason alone.
TEST(Testbed, EveryModelOfAZooHasItsOwnSeeds) {
  for (const char* name : {"testbed-fingerprint.yaml", "testbed-unlearning.yaml", "testbed-fingerprint-small.yaml"}) {
    const auto cfg = load_testbed(std::string(MODELGIF_SOURCE_DIR) + "/configs/" + name);
    const auto recipes = zoo_recipes(cfg);
    EXPECT_EQ(
        static_cast<int>(recipes.size()), 1 +
                                              [&] {
                                                int n = 0;
                                                for (const auto& [kind, count] : cfg.counts) n += count;
                                                return n;
                                              }())
        << name;
    std::map<uint64_t, std::string> train_seeds, init_seeds;
    for (const auto& r : recipes) {
      EXPECT_TRUE(train_seeds.emplace(r.train.seed, r.name).second)
          << name << ": " << r.name << " shares its training seed with " << train_seeds[r.train.seed];
      // Kinds that draw parameters of their own: fresh models, students, new heads, relabelling.
      if (r.kind != "finetune" && r.kind != "adversarial")
        EXPECT_TRUE(init_seeds.emplace(r.init_seed, r.name).second)
            << name << ": " << r.name << " shares its initialization seed with " << init_seeds[r.init_seed];
    }
  }
}
