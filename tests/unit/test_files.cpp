// How modelgif writes and reads files (base/files.hpp, base/hash.hpp): a file
// appears complete or not at all, and a failure names the file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/files.hpp"
#include "base/hash.hpp"
#include "modelgif/error.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

size_t temporaries_in(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    n += e.path().filename().string().find(".tmp-") != std::string::npos;
  return n;
}

}  // namespace

TEST(Files, AtomicWritesReplaceWholeAndLeaveNoTemporary) {
  const std::string dir = testsupport::temp_dir("files-atomic");
  const std::string path = dir + "/a.txt";
  write_text_atomic(path, "one\n");
  write_text_atomic(path, "two\n");
  EXPECT_EQ(read(path), "two\n");
  EXPECT_EQ(temporaries_in(dir), 0u);
  // The temporary is named by the process, so two writers never share one.
  EXPECT_EQ(temp_name(path, 12), path + ".tmp-12");
  EXPECT_EQ(AtomicFile(path).temp(), temp_name(path, ::getpid()));
  // A writer that fails before commit leaves neither a file nor a temporary.
  {
    AtomicFile f(dir + "/b.txt");
    std::ofstream(f.temp()) << "half";
  }
  EXPECT_FALSE(fs::exists(dir + "/b.txt"));
  EXPECT_EQ(temporaries_in(dir), 0u);
  // Released: another process commits it; the temporary stays.
  {
    AtomicFile f(dir + "/c.txt", 99);
    std::ofstream(f.temp()) << "theirs";
    f.release();
  }
  EXPECT_TRUE(fs::exists(temp_name(dir + "/c.txt", 99)));
}

TEST(Files, FailuresNameTheFile) {
  const std::string dir = testsupport::temp_dir("files-fail");
  std::ofstream(dir + "/plain") << "x";
  try {
    write_text_atomic(dir + "/plain/inside.txt", "x");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("cannot write " + dir + "/plain/inside.txt"));
  }
  try {
    ensure_dir(dir + "/plain/sub", "output");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("output: cannot create folder " + dir + "/plain/sub"));
  }
  try {
    read_text_file(dir, "config");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("config " + dir + ": cannot read the file (it is a folder)"));
  }
  try {
    read_text_file(dir + "/none.yaml", "sweep");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("sweep " + dir + "/none.yaml: cannot read the file (No such file"));
  }
  fs::create_symlink(dir + "/loop", dir + "/loop");
  for (const auto& [path, text] : std::vector<std::pair<std::string, std::string>>{
           {dir + "/none.h5", "show: no such file " + dir + "/none.h5"},
           {dir, "show: " + dir + " is a folder, not a file"},
           {dir + "/loop", "show: cannot use " + dir + "/loop: Too many levels of symbolic links"}}) {
    try {
      require_file(path, "show");
      FAIL() << path;
    } catch (const InputError& e) {
      EXPECT_THAT(std::string(e.what()), HasSubstr(text));
    }
  }
  EXPECT_NO_THROW(require_file(dir + "/plain", "show"));
}

TEST(Files, HashesDetectChange) {
  const std::string dir = testsupport::temp_dir("files-hash");
  std::ofstream(dir + "/a") << "abc";
  std::ofstream(dir + "/b") << "abd";
  EXPECT_EQ(hash_file(dir + "/a"), hex64(fnv1a(std::string("abc"))));
  EXPECT_NE(hash_file(dir + "/a"), hash_file(dir + "/b"));
  // FNV-1a 64 as published (the reference implementation's test vectors).
  EXPECT_EQ(hex64(fnv1a(std::string())), "cbf29ce484222325");
  EXPECT_EQ(hex64(fnv1a(std::string("a"))), "af63dc4c8601ec8c");
  EXPECT_EQ(hex64(fnv1a(std::string("foobar"))), "85944171f73967e8");
  EXPECT_THROW(hash_file(dir + "/none"), InputError);
}
