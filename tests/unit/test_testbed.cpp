// The testbed configs (`modelgif zoo`): the shipped ones load, the
// relatedness testbed has the tasks the issue asks for, and bad configs get
// one clear message naming the key or the task.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "modelgif/error.hpp"
#include "testbeds/testbed.hpp"
#include "support/models.hpp"

using namespace modelgif;

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

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

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
  EXPECT_NE(usage_error_of("testbed: relatedness\ndir: x\ntasks: [class10, depth]\n").find("unknown task 'depth'"),
            std::string::npos);
  EXPECT_NE(usage_error_of("testbed: relatedness\ndir: x\ncounts: {negatives: 3}\n").find("'counts'"), std::string::npos);
  EXPECT_NE(usage_error_of("testbed: relatedness\ndir: x\ntasks: [class10, flip]\n").find("at least 3"),
            std::string::npos);
  EXPECT_NE(usage_error_of("testbed: relatedness\ndir: x\ntasks: [flip, class2, flip]\n").find("duplicate task 'flip'"),
            std::string::npos);
  EXPECT_NE(usage_error_of("testbed: relatedness\ndir: x\ntasks: []\n").find("'tasks' is empty"), std::string::npos);
  EXPECT_NE(usage_error_of("testbed: relatedness\ndir: x\ntasks: [[a]]\n").find("key 'tasks': expected a list of strings, got a list holding a list"),
            std::string::npos);
  EXPECT_NE(usage_error_of("testbed: relatedness\ndir: x\nforget_class: 3\n").find("'forget_class' is only for"),
            std::string::npos);
  EXPECT_NE(usage_error_of("testbed: fingerprinting\ndir: x\ncounts: {negatives: 3}\ntasks: [flip]\n")
                .find("'tasks' is only for the relatedness"),
            std::string::npos);
  EXPECT_NE(usage_error_of("testbed: unlearning\ndir: x\ncounts: {direct: 1, approximate: 1, unrelated: 1}\n"
                           "shared_init: true\n")
                .find("'shared_init' is only for the relatedness"),
            std::string::npos);
  EXPECT_NE(usage_error_of("testbed: relatedness\ndir: x\nshared_init: maybe\n").find("key 'shared_init': expected true or false, got 'maybe'"),
            std::string::npos);
  EXPECT_NE(usage_error_of("testbed: taskonomy\ndir: x\n").find("fingerprinting, unlearning or relatedness"),
            std::string::npos);
  EXPECT_NE(usage_error_of("testbed: relatedness\ndir: x\nepochs: 3\n").find("unknown key 'epochs'"),
            std::string::npos);
}
