#include "inputs/fashion.hpp"

#include <ATen/ATen.h>

#include <filesystem>

#include "modelgif/error.hpp"
#include "modelgif/references.hpp"

namespace modelgif {

void require_fashion(const std::string& folder) {
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                        "t10k-labels-idx1-ubyte.gz"})
    if (std::error_code ec; !std::filesystem::is_regular_file(folder + "/" + f, ec))
      throw_input("no Fashion-MNIST in " + folder + " (missing " + f + "; apt-get install dataset-fashion-mnist)");
}

void load_fashion(const std::string& folder, bool train, at::Tensor& x, at::Tensor& y) {
  const std::string pre = folder + (train ? "/train" : "/t10k");
  x = read_idx(pre + "-images-idx3-ubyte.gz").to(at::kFloat).div_(255.0).unsqueeze(1);
  y = read_idx(pre + "-labels-idx1-ubyte.gz").to(at::kLong);
}

std::string fashion_test_images(const std::string& folder) { return folder + "/t10k-images-idx3-ubyte.gz"; }

}  // namespace modelgif
