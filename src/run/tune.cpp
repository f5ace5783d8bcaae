// Phase 5, its second half: how the run evaluates its models. The precision
// is configured; the micro-batch bound and the memory format are configured,
// kept in the checkpoint by the run that made it (so a resumed run computes
// its pieces as before), or timed on the zoo's first model.
#include <ATen/ATen.h>

#include <optional>
#include <sstream>
#include <vector>

#include "modelgif/error.hpp"
#include "run/phases.hpp"

namespace modelgif {
namespace {

constexpr auto kContiguous = at::MemoryFormat::Contiguous;
constexpr double kClearWin = 1.03;  // how much faster channels-last must be

// A layout, or none yet (run.memory_format auto: timed).
using Format = std::optional<at::MemoryFormat>;

// Rank 0's format on every rank, as one integer (-1: none).
Format bcast_format(const comm::Comm& world, const Format& format) {
  const int64_t code = world.bcast(format ? static_cast<int64_t>(*format) : int64_t{-1});
  if (code < 0) return std::nullopt;
  return static_cast<at::MemoryFormat>(code);
}

// Candidate `index`'s timing: "INDEX POINTS RATE", or "INDEX refused MESSAGE".
std::string time_candidate(const RunContext& run, const Placement& where, const Inputs& in, Model& model, size_t index,
                           at::MemoryFormat format, int64_t points) {
  const Numerics n{run.cfg.precision, format};
  const at::Tensor samples = in.refs.images.slice(0, 0, 64);
  try {
    model.convert(n, samples.slice(0, 0, 1));
    const auto t = tune_max_points(model.fn(), model.name(), run.cfg.field, samples, where.device,
                                   tuning_limit(where.device), n, points);
    return std::to_string(index) + " " + std::to_string(t.max_points) + " " + std::to_string(t.points_per_second);
  } catch (const InputError& e) {
    if (n.format == kContiguous) throw;  // a model that runs only channels-last: no run for it
    return std::to_string(index) + " refused " + e.what();
  }
}

// The candidates, timed on the zoo's first model: by rank 0, or with two
// formats and two ranks, one each at the same time (each as busy as in the
// run). Rank 0 picks the fastest and says why; `format` and `points` are set
// on every rank.
void time_candidates(const RunContext& run, const Placement& where, const Inputs& in, Models& models, Format& format,
                     int64_t& points) {
  const std::vector<at::MemoryFormat> candidates =
      format ? std::vector<at::MemoryFormat>{*format}
             : std::vector<at::MemoryFormat>{kContiguous, at::MemoryFormat::ChannelsLast};
  const int timers = std::min<int>(run.world.size(), static_cast<int>(candidates.size()));
  std::string mine;
  comm::collective(run.world, [&] {
    if (run.world.rank() >= timers) return;
    std::optional<Model> loaded;  // the first model, when it is not in this rank's group
    const auto own = models.find(0);
    Model& first = own != models.end() ? own->second : loaded.emplace(run.cfg.zoo[0], where.device);
    for (size_t i = static_cast<size_t>(run.world.rank()); i < candidates.size(); i += static_cast<size_t>(timers))
      mine += time_candidate(run, where, in, first, i, candidates[i], points) + "\n";
  });
  double best = 0;
  std::ostringstream said;
  for (const auto& lines : run.world.allgather(mine)) {
    std::istringstream in(lines);
    size_t index = 0;
    std::string what;
    while (in >> index >> what) {
      std::string rest;
      std::getline(in, rest);
      const at::MemoryFormat f = candidates.at(index);
      said << (said.tellp() > 0 ? ", " : "") << memory_format_name(f);
      if (what == "refused") {
        said << " refused (" << rest.substr(1) << ")";
        continue;
      }
      // Channels-last must win clearly: on a tie, noise would pick the format.
      const double rate = std::stod(rest), needed = f == kContiguous ? 1.0 : kClearWin;
      said << " " << static_cast<int64_t>(rate) << " points/s at " << what;
      if (rate > best * needed) best = rate, format = f, points = std::stoll(what);
    }
  }
  run.log.out() << "tuned on model '" << run.cfg.zoo[0].name << "' in " << precision_name(run.cfg.precision)
                << ": run.max_points " << points << ", run.memory_format "
                << memory_format_name(format.value_or(kContiguous)) << " (" << said.str() << ")\n";
}

// Every rank's models in `run.numerics`; returns the first refusal of a rank
// (empty when none) when `may_refuse`, throws it otherwise.
std::string convert_models(const RunContext& run, const Inputs& in, Models& models, const Numerics& numerics,
                           bool may_refuse) {
  const at::Tensor sample = in.refs.images.slice(0, 0, 1);
  std::string refused;
  comm::collective(run.world, [&] {
    for (auto& entry : models) try {
        entry.second.convert(numerics, sample);
      } catch (const InputError& e) {
        if (!may_refuse) throw;
        refused = e.what();
        break;
      }
  });
  for (const auto& r : run.world.allgather(refused))
    if (!r.empty()) return r;
  return {};
}

}  // namespace

RunNumerics choose_numerics(const RunContext& run, const Plan& plan, const Placement& where, const Inputs& in,
                            Models& models, const Manifest& found) {
  const RunConfig& cfg = run.cfg;
  Format format = cfg.memory_format;
  int64_t points = cfg.max_points;
  if (plan.rank == 0 && found.tuning.max_points > 0) {  // made by an earlier run of this configuration
    const at::MemoryFormat kept = found.tuning.format;
    if (!format) format = kept;
    if (points == 0 && *format == kept) points = found.tuning.max_points;
  }
  format = bcast_format(run.world, format);
  points = run.world.bcast(points);
  if (!format || points == 0) time_candidates(run, where, in, models, format, points);
  const at::MemoryFormat chosen = format.value_or(kContiguous);  // set by the timing when it was auto
  RunNumerics num{{points, chosen}, {cfg.precision, chosen}};
  // Under auto, a model of the zoo that cannot take channels-last inputs (a
  // view() of a convolution's output, say) puts the run on contiguous ones.
  const bool may_refuse = !cfg.memory_format && num.numerics.format != kContiguous;
  const std::string refused = convert_models(run, in, models, num.numerics, may_refuse);
  if (!refused.empty()) {
    run.log.out() << "run.memory_format: contiguous, as " << refused << "\n";
    num.numerics.format = num.tuning.format = kContiguous;
    convert_models(run, in, models, num.numerics, false);
  }
  return num;
}

}  // namespace modelgif
