#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;

TEST(Store, DatasetsStringsAndAttributesRoundTrip) {
  const std::string path = testsupport::temp_dir("store") + "/a.h5";
  {
    auto f = h5::File::create(path);
    const std::vector<double> d = {1.5, -2.25, 3.0, 4.0};
    h5::write(f.id(), "/g/sub/matrix", h5::Type::F64, {2, 2}, d.data());
    const std::vector<int64_t> i = {7, -8, 9};
    h5::write(f.id(), "/ints", h5::Type::I64, {3}, i.data());
    h5::write_strings(f.id(), "/names", {"source", "fine-tuned", "ünïcode"});
    h5::set_attr(f.id(), "/", "config", std::string("field:\n  steps: 5\n"));
    h5::set_attr(f.id(), "/g", "count", int64_t{42});
    h5::create_dataset(f.id(), "/fields/m", h5::Type::F32, {4, 2, 3});
    const auto block = at::arange(12, at::kFloat);
    h5::write_slab(f.id(), "/fields/m", h5::Type::F32, {2, 0, 0}, {2, 2, 3}, block.data_ptr());
    h5::write_slab(f.id(), "/fields/m", h5::Type::F32, {0, 0, 0}, {2, 2, 3}, (block + 100).data_ptr());
    f.close();
  }
  auto f = h5::File::open(path);
  EXPECT_EQ(h5::read_f64(f.id(), "/g/sub/matrix"), (std::vector<double>{1.5, -2.25, 3.0, 4.0}));
  EXPECT_EQ(h5::dims(f.id(), "/g/sub/matrix"), (std::vector<hsize_t>{2, 2}));
  EXPECT_EQ(h5::read_i64(f.id(), "/ints"), (std::vector<int64_t>{7, -8, 9}));
  EXPECT_EQ(h5::read_strings(f.id(), "/names"), (std::vector<std::string>{"source", "fine-tuned", "ünïcode"}));
  EXPECT_EQ(h5::get_attr_string(f.id(), "/", "config"), "field:\n  steps: 5\n");
  EXPECT_EQ(h5::get_attr_int(f.id(), "/g", "count"), 42);
  EXPECT_TRUE(h5::exists(f.id(), "/g/sub/matrix"));
  EXPECT_FALSE(h5::exists(f.id(), "/g/nothing/here"));
  EXPECT_EQ(h5::list(f.id(), "/"), (std::vector<std::string>{"fields", "g", "ints", "names"}));
  const auto all = h5::read_f32(f.id(), "/fields/m");
  EXPECT_EQ(all[0], 100.f);
  EXPECT_EQ(all[12], 0.f);
  EXPECT_EQ(all[23], 11.f);
  const auto part = h5::read_slab_f32(f.id(), "/fields/m", {3, 1, 0}, {1, 1, 3});
  EXPECT_EQ(part, (std::vector<float>{9.f, 10.f, 11.f}));
}

TEST(Store, HalfFloatsAreIeeeBinary16) {
  const std::string path = testsupport::temp_dir("store-half") + "/h.h5";
  const auto values = at::tensor({1.0f, -2.5f, 65504.0f, 0.0009765625f, 3.14159f});
  {
    auto f = h5::File::create(path);
    const auto half = values.to(at::kHalf).contiguous();
    h5::write(f.id(), "/h", h5::Type::F16, {5}, half.data_ptr());
    f.close();
  }
  auto f = h5::File::open(path);
  const auto back = h5::read_f32(f.id(), "/h");  // HDF5 converts half -> float
  const auto expect = values.to(at::kHalf).to(at::kFloat);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(back[i], expect[i].item<float>()) << i;
}

// Every failure names the file and the object in it ("FILE:/object"), so that
// no caller has to catch it to add where it happened.
TEST(Store, FailuresAreStoreErrorsNamingTheFileAndObject) {
  try {
    h5::File::open("/nonexistent/x.h5");
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("/nonexistent/x.h5"));
  }
  const std::string junk = testsupport::temp_dir("store-junk") + "/junk.h5";
  std::ofstream(junk) << "not hdf5";
  EXPECT_THROW(h5::File::open(junk), StoreError);
  const std::string path = testsupport::temp_dir("store-err") + "/e.h5";
  auto f = h5::File::create(path);
  try {
    h5::read_f64(f.id(), "/missing");
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("opening dataset " + path + ":/missing"));
    EXPECT_EQ(e.exit_code(), kExitInput);
  }
  const std::vector<double> d = {1, 2};
  h5::write(f.id(), "/g/m", h5::Type::F64, {2}, d.data());
  for (const auto& failing : std::vector<std::function<void()>>{
           [&] { h5::read_strings(f.id(), "/g/m"); },                          // not strings
           [&] { h5::get_attr_int(f.id(), "/g/m", "absent"); },                // no such attribute
           [&] { h5::list(f.id(), "/nogroup"); },                              // no such group
           [&] { h5::write(f.id(), "/g/m", h5::Type::F64, {2}, d.data()); }})  // exists already
    try {
      failing();
      ADD_FAILURE() << "expected a StoreError";
    } catch (const StoreError& e) {
      EXPECT_THAT(std::string(e.what()), HasSubstr(path + ":/")) << e.what();
    }
}
