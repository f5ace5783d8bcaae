// Runs under mpiexec -n K (K >= 2): the MPI wrapper and collective parallel
// HDF5 I/O. Only rank 0 prints; a failure on any rank fails the test.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "modelgif/comm.hpp"
#include "modelgif/error.hpp"
#include "modelgif/h5.hpp"
#include "run/plan.hpp"
#include "run/result_file.hpp"

using namespace modelgif;

TEST(Comm, CollectivesAndRingExchange) {
  const auto world = comm::Comm::world();
  const int r = world.rank(), n = world.size();
  ASSERT_GE(n, 2);
  std::vector<double> v = {1.0 * r, 2.0};
  world.allreduce_sum(v);
  EXPECT_EQ(v[0], n * (n - 1) / 2.0);
  EXPECT_EQ(v[1], 2.0 * n);
  EXPECT_EQ(world.allreduce_max(int64_t{r}), n - 1);
  EXPECT_EQ(world.bcast(r == 0 ? std::string("from zero") : std::string()), "from zero");
  const auto all = world.allgather("rank" + std::string(static_cast<size_t>(r), '+'));
  ASSERT_EQ(static_cast<int>(all.size()), n);
  EXPECT_EQ(all[n - 1], "rank" + std::string(static_cast<size_t>(n - 1), '+'));
  // Ring: send to the right, receive from the left, sizes differ per rank.
  std::vector<char> mine(static_cast<size_t>(r + 1), static_cast<char>('a' + r));
  const auto got = world.sendrecv(mine, (r + 1) % n, (r - 1 + n) % n);
  const int left = (r - 1 + n) % n;
  EXPECT_EQ(got, std::vector<char>(static_cast<size_t>(left + 1), static_cast<char>('a' + left)));
  const auto odd = world.split(r % 2, r);
  EXPECT_EQ(odd.size(), (n + 1 - r % 2) / 2);
  EXPECT_GE(world.split_shared().size(), 1);
}

TEST(Comm, ParallelHdf5WritesEveryRanksBlockCollectively) {
  const auto world = comm::Comm::world();
  const int r = world.rank(), n = world.size();
  const std::string dir = std::filesystem::temp_directory_path() / "modelgif-mpi-h5";
  if (r == 0) std::filesystem::create_directories(dir);
  world.barrier();
  const std::string path = dir + "/out.h5";
  {
    ResultWriter f(path, &world);
    f.create_fields({"m"}, 2 * n, 2, 3, false);
    // Rank r owns rows [2r, 2r + 2); the last rank also takes part in a second, empty round.
    f.write_field_block("m", 2 * r, at::full({2, 2, 3}, static_cast<float>(r)));
    // That transfer really was collective.
    H5D_mpio_actual_io_mode_t mode;
    ASSERT_GE(H5Pget_mpio_actual_io_mode(f.transfer(), &mode), 0);
    EXPECT_NE(mode, H5D_MPIO_NO_COLLECTIVE);
    f.write_field_block("m", 0, at::Tensor());
    f.write_strings("/models/names", {"m"});
    f.set_attr("/", "ranks", static_cast<int64_t>(n));
    f.commit();
  }
  world.barrier();
  if (r == 0) {
    auto file = h5::File::open(path);
    const auto v = h5::read_f32(file.id(), "/fields/m");
    ASSERT_EQ(static_cast<int>(v.size()), 2 * n * 6);
    for (int i = 0; i < 2 * n; ++i) EXPECT_EQ(v[static_cast<size_t>(i * 6)], static_cast<float>(i / 2)) << i;
    EXPECT_EQ(h5::read_strings(file.id(), "/models/names"), std::vector<std::string>{"m"});
    EXPECT_EQ(h5::get_attr_int(file.id(), "/", "ranks"), n);
  }
}

TEST(Grid, AutoShapesAndUnevenSplits) {
  // Pure functions, checked on every rank.
  EXPECT_EQ(choose_grid(parse_grid("auto"), 4, 7, 3).used(), 4);
  EXPECT_EQ(choose_grid(parse_grid("auto"), 4, 7, 3).shards, 2);
  EXPECT_EQ(choose_grid(parse_grid("auto"), 6, 2, 10).groups, 1);  // more shards, no exchange
  EXPECT_EQ(choose_grid(parse_grid("auto"), 6, 2, 10).shards, 6);
  EXPECT_EQ(choose_grid(parse_grid("auto"), 8, 3, 2).used(), 6);  // P > M x B: idle ranks
  EXPECT_EQ(choose_grid(parse_grid("2x3"), 6, 5, 5).groups, 2);
  EXPECT_THROW(choose_grid(parse_grid("3x3"), 6, 5, 5), UsageError);
  EXPECT_THROW(choose_grid(parse_grid("4x1"), 6, 3, 5), UsageError);
  EXPECT_THROW(parse_grid("2by2"), UsageError);
  EXPECT_EQ(split_range(7, 3, 0), (std::pair<int64_t, int64_t>{0, 3}));
  EXPECT_EQ(split_range(7, 3, 2), (std::pair<int64_t, int64_t>{5, 7}));
  EXPECT_EQ(split_range(2, 3, 2), (std::pair<int64_t, int64_t>{2, 2}));
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  comm::ensure_initialized();
  const auto world = comm::Comm::world();
  if (world.rank() != 0) {  // rank 0 prints; every rank's result counts
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int failed = RUN_ALL_TESTS();
  return static_cast<int>(world.allreduce_max(int64_t{failed}));
}
