// What modelgif-bench measures with: the model's convolutions and linear
// layers recorded during one forward, those convolutions timed alone, the
// published loop written out plainly, and the statistics of a series of rounds.
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "modelgif/field.hpp"

namespace modelgif::bench {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0);

// --- the model's layers, recorded during one forward --------------------------

struct Layer {
  std::string op;  // aten::conv2d, aten::convolution, aten::_convolution or aten::linear
  std::vector<int64_t> input, weight, stride, padding, dilation;
  int64_t groups = 1;
  double flops = 0;  // per input image, a multiply-add counting 2
};

// The convolutions and linear layers of one forward on `one` (1 x C x H x W).
// An op that calls another (conv2d -> convolution -> _convolution) is
// counted once: the outermost name seen.
std::vector<Layer> record_layers(const ModelFn& fn, const at::Tensor& one);

// FLOP per input image of every layer, or of the convolutions alone.
double total_flops(const std::vector<Layer>& layers, bool convs_only);

// Every convolution of `layers` with random inputs of a batch of `batch`, in
// `num`'s precision and memory format.
struct ConvSet {
  std::vector<std::pair<at::Tensor, at::Tensor>> inputs;  // input, weight
  std::vector<const Layer*> layers;                       // into the layers given
};
ConvSet make_convs(const std::vector<Layer>& layers, int64_t batch, Numerics num);
// Seconds of one forward of every convolution of the set.
double time_convs(const ConvSet& set);

// --- (a): the published loop, plainly ------------------------------------------

// 2 references x all S steps per forward/backward, NCHW float32: the shape of
// the published ModelGiF code. Cumulative fields times (x - b), all steps.
at::Tensor published_loop(const ModelFn& fn, const at::Tensor& x, const at::Tensor& b, const FieldSpec& spec);

// --- statistics of the rounds -----------------------------------------------------

struct Series {
  std::string label;
  std::vector<double> values;  // per round
};

double median(std::vector<double> v);
// "1,234 points/s" figures with their spread: "median [min, max]".
std::string spread(const std::vector<double>& v, int precision);
// Medians of the last `window` rounds moved by less than `tolerance`.
bool stable(const std::vector<Series>& series, size_t window, double tolerance);
// a[i] / b[i], round by round.
std::vector<double> ratios(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace modelgif::bench
