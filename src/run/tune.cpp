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

// One candidate's timing: "FORMAT POINTS RATE", or "FORMAT refused MESSAGE".
std::string time_candidate(const RunContext& run, const Placement& where, const Inputs& in, Model& model,
                           const std::string& format, int64_t points) {
  const Numerics n{run.cfg.precision, parse_memory_format(format)};
  const at::Tensor samples = in.refs.images.slice(0, 0, 64);
  try {
    model.convert(n, samples.slice(0, 0, 1));
    const auto t = tune_max_points(model.fn(), model.name(), run.cfg.field, samples, where.device,
                                   tuning_limit(where.device), n, points);
    return format + " " + std::to_string(t.max_points) + " " + std::to_string(t.points_per_second);
  } catch (const InputError& e) {
    if (n.format == kContiguous) throw;  // a model that runs only channels-last: no run for it
    return format + " refused " + e.what();
  }
}

// The candidates, timed on the zoo's first model: by rank 0, or with two
// formats and two ranks, one each at the same time (each as busy as in the
// run). Rank 0 picks the fastest and says why; `format` and `points` are set
// on every rank.
void time_candidates(const RunContext& run, const Placement& where, const Inputs& in, Models& models,
                     std::string& format, int64_t& points) {
  const std::vector<std::string> candidates =
      format == "auto" ? std::vector<std::string>{"contiguous", "channels_last"} : std::vector<std::string>{format};
  const int timers = std::min<int>(run.world.size(), static_cast<int>(candidates.size()));
  std::string mine;
  comm::collective(run.world, [&] {
    if (run.world.rank() >= timers) return;
    std::optional<Model> loaded;  // the first model, when it is not in this rank's group
    const auto own = models.find(0);
    Model& first = own != models.end() ? own->second : loaded.emplace(run.cfg.zoo[0], where.device);
    for (size_t i = static_cast<size_t>(run.world.rank()); i < candidates.size(); i += static_cast<size_t>(timers))
      mine += time_candidate(run, where, in, first, candidates[i], points) + "\n";
  });
  double best = 0;
  std::ostringstream said;
  for (const auto& lines : run.world.allgather(mine)) {
    std::istringstream in(lines);
    std::string f, what;
    while (in >> f >> what) {
      std::string rest;
      std::getline(in, rest);
      said << (said.tellp() > 0 ? ", " : "") << f;
      if (what == "refused") {
        said << " refused (" << rest.substr(1) << ")";
        continue;
      }
      // Channels-last must win clearly: on a tie, noise would pick the format.
      const double rate = std::stod(rest), needed = f == "contiguous" ? 1.0 : kClearWin;
      said << " " << static_cast<int64_t>(rate) << " points/s at " << what;
      if (rate > best * needed) best = rate, format = f, points = std::stoll(what);
    }
  }
  run.log.out() << "tuned on model '" << run.cfg.zoo[0].name << "' in " << precision_name(run.cfg.precision)
                << ": run.max_points " << points << ", run.memory_format " << format << " (" << said.str() << ")\n";
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
  std::string format = cfg.memory_format ? memory_format_name(*cfg.memory_format) : "auto";
  int64_t points = cfg.max_points;
  if (plan.rank == 0 && found.tuning.max_points > 0) {  // made by an earlier run of this configuration
    const std::string kept = memory_format_name(found.tuning.format);
    if (format == "auto") format = kept;
    if (points == 0 && format == kept) points = found.tuning.max_points;
  }
  format = run.world.bcast(format);
  points = run.world.bcast(points);
  if (format == "auto" || points == 0) time_candidates(run, where, in, models, format, points);
  RunNumerics num{{points, parse_memory_format(format)}, {cfg.precision, parse_memory_format(format)}};
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
