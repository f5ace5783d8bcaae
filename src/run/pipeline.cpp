#include "modelgif/pipeline.hpp"

#include <ATen/ATen.h>
#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <sstream>

#include "run/checkpoint.hpp"
#include "modelgif/comm.hpp"
#include "modelgif/distance.hpp"
#include "modelgif/error.hpp"
#include "run/result_file.hpp"
#include "run/plan.hpp"
#include "run/progress.hpp"
#include "modelgif/references.hpp"
#include "run/signals.hpp"
#include "modelgif/version.hpp"
#include "modelgif/model.hpp"

namespace modelgif {
namespace {

using Clock = std::chrono::steady_clock;

std::string now_iso() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

bool wants(const RunConfig& cfg, Metric m) {
  for (auto x : cfg.metrics)
    if (x == m) return true;
  return false;
}

// Field blocks travel between ranks as: count, then per model its index and rows, then floats.
std::vector<char> pack(const std::vector<int64_t>& models, const std::vector<at::Tensor>& fields) {
  std::vector<int64_t> head = {static_cast<int64_t>(models.size())};
  size_t floats = 0;
  for (size_t i = 0; i < models.size(); ++i) {
    head.push_back(models[i]);
    head.push_back(fields[i].size(0));
    floats += static_cast<size_t>(fields[i].numel());
  }
  std::vector<char> buf(head.size() * 8 + floats * 4);
  std::memcpy(buf.data(), head.data(), head.size() * 8);
  char* p = buf.data() + head.size() * 8;
  for (const auto& f : fields) {
    const at::Tensor c = f.contiguous();
    std::memcpy(p, c.data_ptr(), static_cast<size_t>(c.numel()) * 4);
    p += c.numel() * 4;
  }
  return buf;
}

void unpack(const std::vector<char>& buf, int64_t steps, int64_t features, std::vector<int64_t>& models,
            std::vector<at::Tensor>& fields) {
  models.clear(), fields.clear();
  int64_t n = 0;
  std::memcpy(&n, buf.data(), 8);
  std::vector<int64_t> head(static_cast<size_t>(1 + 2 * n));
  std::memcpy(head.data(), buf.data(), head.size() * 8);
  const char* p = buf.data() + head.size() * 8;
  for (int64_t i = 0; i < n; ++i) {
    models.push_back(head[static_cast<size_t>(1 + 2 * i)]);
    const int64_t rows = head[static_cast<size_t>(2 + 2 * i)];
    // A view into the buffer (no copy); valid while `buf` lives.
    at::Tensor t = at::from_blob(const_cast<char*>(p), {rows, steps, features}, at::kFloat);
    p += t.numel() * 4;
    fields.push_back(t);
  }
}

// Everything a rank knows about the run.
struct Plan {
  int rank = 0, ranks = 1, local_rank = 0, local_size = 1;
  Grid grid;
  int group = -1, shard = -1;  // -1: idle rank
  int64_t M = 0, N = 0, B = 0, S = 0, D = 0;
  int64_t model_lo = 0, model_hi = 0;  // this rank's models [lo, hi)
  std::vector<int64_t> blocks;         // this rank's reference blocks
  std::vector<std::string> names;      // zoo order
  std::vector<std::string> keys;       // name@hash per model
  std::string fingerprint;
  bool active() const { return group >= 0; }
  std::pair<int64_t, int64_t> block_range(int64_t k, int64_t block) const {
    return {k * block, std::min(N, (k + 1) * block)};
  }
};

std::vector<int64_t> shard_blocks(int64_t B, const Grid& g, int shard) {
  std::vector<int64_t> v;
  for (int64_t k = shard; k < B; k += g.shards) v.push_back(k);
  return v;
}

// Phase 2 for one kind of pair sums ("plain" or "standardized"): every
// shard's ranks meet every pair of models on each of the shard's blocks,
// skipping pairs already in the block's cache. Returns (computed, reused).
std::pair<int64_t, int64_t> pair_phase(const std::string& kind, const Plan& plan, const RunConfig& cfg,
                                       const Checkpoint& ckpt, const comm::Comm& shard_comm,
                                       const std::function<at::Tensor(int64_t, const at::Tensor&)>& transform) {
  int64_t computed = 0, reused = 0;
  if (!plan.active()) return {0, 0};
  const int G = plan.grid.groups, g = plan.group;
  bool first = true;
  for (const int64_t k : plan.blocks) {
    // The shard stops together, but only after one block of this start: a run
    // stopped early in every allocation still gets on.
    if (!first && shard_comm.allreduce_max(signals::stop_requested() ? 1 : 0) > 0) break;
    // Shard rank 0 reads the block's cache and shares it, so that every rank
    // of the shard decides alike which pairs are left.
    Checkpoint::PairCache cache;
    std::string keys_text;
    if (shard_comm.rank() == 0) {
      cache = ckpt.read_pairs(kind, k, plan.fingerprint);
      for (const auto& key : cache.keys) keys_text += key + "\n";
    }
    keys_text = shard_comm.bcast(keys_text);
    if (shard_comm.rank() != 0) {
      std::istringstream in(keys_text);
      for (std::string line; std::getline(in, line);) cache.keys.push_back(line);
      cache.sums.assign(static_cast<size_t>(DistanceAccumulator::kSums) * cache.keys.size() * cache.keys.size(), 0.0);
    }
    shard_comm.bcast(cache.sums);
    std::map<std::string, int64_t> cached;
    for (size_t i = 0; i < cache.keys.size(); ++i) cached[cache.keys[i]] = static_cast<int64_t>(i);
    const size_t K0 = cache.keys.size();
    auto needed = [&](int64_t a, int64_t b) {  // a pair is cached when its sums cover some rows
      const auto ia = cached.find(plan.keys[static_cast<size_t>(a)]), ib = cached.find(plan.keys[static_cast<size_t>(b)]);
      if (ia == cached.end() || ib == cached.end()) return true;
      const size_t row = (static_cast<size_t>(DistanceAccumulator::kRows) * K0 + static_cast<size_t>(ia->second)) * K0 +
                         static_cast<size_t>(ib->second);
      return !(cache.sums[row] > 0);
    };
    bool any = false;
    for (int64_t a = 0; a < plan.M && !any; ++a)
      for (int64_t b = a + 1; b < plan.M && !any; ++b) any = needed(a, b);
    const int64_t pairs_total = plan.M * (plan.M - 1) / 2;
    if (!any) {
      reused += pairs_total;
      continue;
    }
    first = false;
    // Own field blocks, transformed (standardized when asked: every rank has
    // the same global moments, so transformed blocks can travel as they are).
    std::vector<int64_t> own;
    std::vector<at::Tensor> fields;
    for (int64_t m = plan.model_lo; m < plan.model_hi; ++m) {
      own.push_back(m);
      fields.push_back(transform(m, ckpt.read_field(plan.names[static_cast<size_t>(m)], k)));
    }
    DistanceAccumulator acc(plan.M);
    int64_t done_here = 0;
    // The pairs wanted between two sets of models, counted.
    auto wanted = [&](const std::vector<int64_t>& xs, const std::vector<int64_t>& ys, bool same) {
      std::vector<std::vector<bool>> w(xs.size(), std::vector<bool>(ys.size(), false));
      for (size_t i = 0; i < xs.size(); ++i)
        for (size_t j = same ? i + 1 : 0; j < ys.size(); ++j)
          if (needed(xs[i], ys[j])) w[i][j] = true, ++done_here;
      return w;
    };
    acc.add_pairs(own, fields, own, fields, wanted(own, own, true));
    // Ring: at step t receive group g - t; group pair {g, h} belongs to the rank
    // that meets it first (t < G - t), ties broken by the lower group.
    const std::vector<char> mine = G > 1 ? pack(own, fields) : std::vector<char>{};
    for (int t = 1; t <= G / 2; ++t) {
      const int dest = (g + t) % G, src = (g - t + G) % G;
      const auto buf = shard_comm.sendrecv(mine, dest, src);
      const bool owner = t < G - t || (t == G - t && g < src);
      if (!owner) continue;
      std::vector<int64_t> theirs;
      std::vector<at::Tensor> visiting;  // views into buf
      unpack(buf, plan.S, plan.D, theirs, visiting);
      acc.add_pairs(own, fields, theirs, visiting, wanted(own, theirs, false));
    }
    // Each pair was computed by exactly one rank: the sum over the shard is exact.
    shard_comm.allreduce_sum(acc.raw());
    const int64_t done = shard_comm.allreduce_sum(done_here);
    computed += done, reused += pairs_total - done;
    if (shard_comm.rank() == 0) {
      // New cache: old keys plus this zoo's, old sums plus the new pairs.
      Checkpoint::PairCache out;
      out.keys = cache.keys;
      for (const auto& key : plan.keys)
        if (!cached.count(key)) out.keys.push_back(key);
      const size_t K = out.keys.size();
      const int W = DistanceAccumulator::kSums;
      out.sums.assign(static_cast<size_t>(W) * K * K, 0.0);
      for (int w = 0; w < W; ++w)
        for (size_t a = 0; a < K0; ++a)
          for (size_t b = 0; b < K0; ++b) out.sums[(w * K + a) * K + b] = cache.sums[(w * K0 + a) * K0 + b];
      std::map<std::string, size_t> index;
      for (size_t i = 0; i < K; ++i) index[out.keys[i]] = i;
      for (int64_t a = 0; a < plan.M; ++a)
        for (int64_t b = 0; b < plan.M; ++b) {
          if (a == b || !needed(a, b)) continue;
          const size_t ia = index[plan.keys[static_cast<size_t>(a)]], ib = index[plan.keys[static_cast<size_t>(b)]];
          for (int w = 0; w < W; ++w)
            out.sums[(w * K + ia) * K + ib] = acc.raw()[static_cast<size_t>((w * plan.M + a) * plan.M + b)];
        }
      ckpt.write_pairs(kind, k, out, plan.fingerprint);
    }
  }
  return {computed, reused};
}

// Rank 0: the zoo's sums over all blocks, read from the per-block caches in
// block order, so the result does not depend on the number of ranks.
DistanceAccumulator gather_pairs(const std::string& kind, const Plan& plan, const Checkpoint& ckpt) {
  DistanceAccumulator acc(plan.M);
  const int W = DistanceAccumulator::kSums;
  for (int64_t k = 0; k < plan.B; ++k) {
    const auto cache = ckpt.read_pairs(kind, k, plan.fingerprint);
    std::map<std::string, size_t> index;
    for (size_t i = 0; i < cache.keys.size(); ++i) index[cache.keys[i]] = i;
    const size_t K = cache.keys.size();
    for (int64_t a = 0; a < plan.M; ++a)
      for (int64_t b = 0; b < plan.M; ++b) {
        if (a == b) continue;
        const auto ia = index.find(plan.keys[static_cast<size_t>(a)]), ib = index.find(plan.keys[static_cast<size_t>(b)]);
        if (ia == index.end() || ib == index.end())
          throw_internal("pair sums of block " + std::to_string(k) + " miss " + plan.keys[static_cast<size_t>(a)] +
                      " / " + plan.keys[static_cast<size_t>(b)]);
        if (!(cache.sums[(DistanceAccumulator::kRows * K + ia->second) * K + ib->second] > 0))
          throw_internal("no pair sums of block " + std::to_string(k) + " for " +
                      plan.keys[static_cast<size_t>(a)] + " / " + plan.keys[static_cast<size_t>(b)]);
        for (int w = 0; w < W; ++w)
          acc.raw()[static_cast<size_t>((w * plan.M + a) * plan.M + b)] += cache.sums[(w * K + ia->second) * K + ib->second];
      }
  }
  return acc;
}

std::string describe_mismatch(const std::string& old_text, const std::string& new_text) {
  std::map<std::string, std::string> a, b;
  auto parse = [](const std::string& text, std::map<std::string, std::string>& out) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      const auto colon = line.find(": ");
      if (colon != std::string::npos) out[line.substr(0, colon)] = line.substr(colon + 2);
    }
  };
  parse(old_text, a), parse(new_text, b);
  std::string diff;
  for (const auto& [k, v] : b)
    if (a[k] != v) diff += (diff.empty() ? "" : ", ") + k + " was " + (a[k].empty() ? "unset" : a[k]) + ", now " + v;
  return diff.empty() ? "fingerprints differ" : diff;
}

}  // namespace

RunSummary run_pipeline(const RunConfig& cfg, std::ostream& log_out, const RunOptions& opt) {
  comm::Comm world = comm::Comm::world();
  signals::install();
  Plan plan;
  plan.rank = world.rank(), plan.ranks = world.size();
  std::ostringstream sink;
  std::ostream& log = plan.rank == 0 ? log_out : sink;
  const comm::Comm local = world.split_shared();
  plan.local_rank = local.rank(), plan.local_size = local.size();

  RunSummary sum;
  sum.ranks = plan.ranks;
  // Placement: node-local rank picks the GPU; CPU ranks share the node's cores.
  c10::Device device(c10::kCPU);
  comm::collective(world, [&] {
    device = resolve_device(cfg.device, plan.local_rank);
    sum.threads = set_threads(cfg.threads, plan.local_size);
  });
  sum.device = device.str();
  const auto placement = world.allgather("rank " + std::to_string(plan.rank) + " on " + comm::processor_name() +
                                         ": " + sum.device + ", " + std::to_string(sum.threads) + " threads");

  // References (every rank loads them: they are small next to the fields).
  ReferenceSet refs;
  at::Tensor baselines;
  comm::collective(world, [&] {
    refs = load_references(cfg.refs);
    if (cfg.field.target.needs_labels() && !refs.labels.defined())
      throw_usage("field.target label needs labels: set references.labels (no labels found for " + cfg.refs.source +
                  ")");
    baselines = make_baselines(cfg.baseline, refs.images);
  });
  plan.M = static_cast<int64_t>(cfg.zoo.size());
  plan.N = refs.images.size(0);
  plan.B = (plan.N + cfg.block - 1) / cfg.block;
  sum.references = plan.N;
  for (const auto& z : cfg.zoo) sum.names.push_back(z.name);
  plan.names = sum.names;
  sum.metrics = cfg.metrics;

  // Model identities: rank 0 hashes the files, everyone gets the keys.
  std::string hashes;
  comm::collective(world, [&] {
    if (plan.rank == 0)
      for (const auto& z : cfg.zoo) {
        if (!std::filesystem::is_regular_file(z.path)) throw_input("model '" + z.name + "': no such file " + z.path);
        hashes += hash_file(z.path) + "\n";
      }
  });
  hashes = world.bcast(hashes);
  {
    std::istringstream in(hashes);
    for (const auto& z : cfg.zoo) {
      std::string h;
      std::getline(in, h);
      plan.keys.push_back(z.name + "@" + h);
    }
  }

  // The grid and this rank's share.
  comm::collective(world, [&] { plan.grid = choose_grid(cfg.grid, plan.ranks, plan.M, plan.B); });
  if (plan.rank < plan.grid.used()) {
    plan.group = plan.rank / plan.grid.shards, plan.shard = plan.rank % plan.grid.shards;
    std::tie(plan.model_lo, plan.model_hi) = split_range(plan.M, plan.grid.groups, plan.group);
    plan.blocks = shard_blocks(plan.B, plan.grid, plan.shard);
  }
  sum.grid = std::to_string(plan.grid.groups) + "x" + std::to_string(plan.grid.shards);

  // Models: each rank loads its own group's, frozen, and checks the shapes.
  std::map<int64_t, Model> models;
  FieldEngine probe_engine(cfg.field, 1, device);
  plan.S = probe_engine.kept_steps();
  plan.D = probe_engine.features(refs.shape());
  comm::collective(world, [&] {
    for (int64_t m = plan.model_lo; m < plan.model_hi; ++m) {
      Model model(cfg.zoo[static_cast<size_t>(m)], device);
      model.check_accepts(refs.shape());
      models.emplace(m, std::move(model));
    }
  });

  log << "modelgif: " << plan.M << " models, " << plan.N << " references " << refs.shape()[0] << "x"
      << refs.shape()[1] << "x" << refs.shape()[2] << " in " << plan.B << " blocks of " << cfg.block << ", "
      << cfg.field.steps << " steps (" << to_string(cfg.field.rule) << "), target " << cfg.field.target.str()
      << ", field " << plan.S << "x" << plan.D << " per reference\n";
  log << "grid " << sum.grid << " (" << plan.grid.groups << " model groups x " << plan.grid.shards
      << " reference shards) on " << plan.ranks << " rank" << (plan.ranks > 1 ? "s" : "")
      << (plan.grid.used() < plan.ranks ? " (" + std::to_string(plan.ranks - plan.grid.used()) + " idle)" : "")
      << "\n";
  for (const auto& p : placement) log << "  " << p << "\n";

  // Checkpoint: rank 0 checks the manifest against this run.
  const Checkpoint ckpt(Checkpoint::dir_for(cfg.output_path));
  const std::string fp_text = fingerprint_text(
      cfg, hash_tensor(refs.images) + (refs.labels.defined() ? "+labels:" + hash_tensor(refs.labels) : std::string()));
  plan.fingerprint = hex64(fnv1a(fp_text));
  int64_t max_points = cfg.max_points;
  comm::collective(world, [&] {
    if (plan.rank != 0) return;
    Manifest man;
    if (ckpt.has_manifest()) {
      try {
        man = ckpt.read_manifest();
      } catch (const InputError&) {
        if (!opt.recompute) throw;
        ckpt.wipe();
      }
      if (!man.fingerprint.empty() && man.fingerprint != plan.fingerprint) {
        if (!opt.recompute && ckpt.holds_work())
          throw_input("checkpoint " + ckpt.dir() + " belongs to another configuration (" +
                      describe_mismatch(man.text, fp_text) + "); rerun with --recompute to discard it");
        log << "checkpoint: configuration changed (" << describe_mismatch(man.text, fp_text) << "): discarded\n";
        ckpt.wipe();
        man = Manifest();
      }
      for (size_t i = 0; i < cfg.zoo.size(); ++i) {
        const auto& name = cfg.zoo[i].name;
        const std::string hash = plan.keys[i].substr(plan.keys[i].rfind('@') + 1);
        const auto it = man.models.find(name);
        if (it == man.models.end() || it->second == hash) continue;
        if (!opt.recompute && ckpt.holds_work(name))
          throw_input("model '" + name + "': " + cfg.zoo[i].path + " changed since checkpoint " + ckpt.dir() +
                      " was made (file hash " + it->second + ", now " + hash +
                      "); rerun with --recompute to recompute its fields");
        log << "checkpoint: model '" << name << "' changed: its shards are discarded\n";
        ckpt.remove_model(name);
      }
    }
    if (max_points == 0 && man.max_points > 0) max_points = man.max_points;  // same micro-batches as before
    if (max_points == 0) {
      double rate = 0;
      max_points = tune_max_points(models.begin()->second.fn(), refs.images.slice(0, 0, 1), device,
                                   device.is_cuda() ? 8192 : 1024, &rate);
      log << "run.max_points: tuned to " << max_points << " (" << static_cast<int64_t>(rate) << " points/s on model '"
          << models.begin()->second.name() << "')\n";
    }
    man.fingerprint = plan.fingerprint, man.text = fp_text, man.config = cfg.resolved_yaml;
    man.references = plan.N, man.block = cfg.block, man.blocks = plan.B, man.max_points = max_points;
    man.steps_kept = plan.S, man.features = plan.D;
    man.order = sum.names;
    for (size_t i = 0; i < cfg.zoo.size(); ++i)
      man.models[cfg.zoo[i].name] = plan.keys[i].substr(plan.keys[i].rfind('@') + 1);
    ckpt.write_manifest(man);
  });
  max_points = world.bcast(max_points);
  const FieldEngine engine(cfg.field, max_points, device);

  // Phase 1: fields of this rank's pieces, each into its own shard.
  const bool standardized = wants(cfg, Metric::CosineStandardized);
  Progress progress(ckpt, plan.M * plan.B, cfg.block * cfg.field.steps, cfg.progress_interval, log, plan.rank == 0);
  const auto t0 = Clock::now();
  int64_t computed = 0, reused = 0, resumed = 0, corrupt = 0, points = 0;
  bool stopped = false;
  std::vector<std::string> notes;  // corrupt shards, reported by rank 0
  comm::collective(world, [&] {
    for (const int64_t k : plan.blocks) {
      const auto [lo, hi] = plan.block_range(k, cfg.block);
      for (int64_t m = plan.model_lo; m < plan.model_hi && !stopped; ++m) {
        if (signals::stop_requested()) {  // also when a piece is a single micro-batch
          stopped = true;
          break;
        }
        const Model& model = models.at(m);
        const std::string shard_fp = shard_fingerprint(plan.fingerprint, plan.keys[static_cast<size_t>(m)], k);
        const ShardStatus st = ckpt.probe(model.name(), k, shard_fp, hi - lo);
        if (st.kind == ShardStatus::Mismatch && !opt.recompute)
          throw_input("checkpoint shard " + ckpt.field_path(model.name(), k) + " does not belong to this run (" +
                      st.reason + "); rerun with --recompute");
        if (st.kind == ShardStatus::Complete) {
          ++reused;
          continue;
        }
        if (st.kind == ShardStatus::Corrupt)
          ++corrupt, notes.push_back("checkpoint shard " + ckpt.field_path(model.name(), k) + " is corrupt (" +
                                     st.reason + "): recomputing");
        at::Tensor field;
        int64_t from = 0;
        if (st.kind == ShardStatus::Partial) {
          field = ckpt.read_field(model.name(), k);
          from = st.completed;
          ++resumed;
        }
        int64_t done = 0;
        const at::Tensor y = refs.labels.defined() ? refs.labels.slice(0, lo + from, hi) : at::Tensor();
        at::Tensor rest = engine.compute(
            model.fn(), model.name(), refs.images.slice(0, lo + from, hi), baselines.slice(0, lo + from, hi), y,
            lo + from,
            [&] {
              progress.tick();
              return !signals::stop_requested();
            },
            &done);
        points += done * cfg.field.steps;
        field = field.defined() ? at::cat({field, rest.slice(0, 0, done)}) : rest;
        const int64_t completed = from + done;
        if (completed < hi - lo) {  // stopped: keep the finished references
          if (completed > 0) ckpt.write_field(model.name(), k, shard_fp, field, completed, hi - lo, nullptr);
          stopped = true;
          break;
        }
        FeatureMoments mom(plan.D);
        mom.add(field);
        ckpt.write_field(model.name(), k, shard_fp, field, completed, hi - lo, &mom);
        ++computed;
        progress.tick();
      }
      if (stopped) break;
    }
  });
  for (const auto& line : world.allgather([&] {
         std::string s;
         for (const auto& n : notes) s += n + "\n";
         return s;
       }()))
    log << line;
  progress.finish();
  sum.pieces_computed = world.allreduce_sum(computed);
  sum.pieces_reused = world.allreduce_sum(reused);
  sum.pieces_resumed = world.allreduce_sum(resumed);
  sum.pieces_corrupt = world.allreduce_sum(corrupt);
  sum.points = world.allreduce_sum(points);
  sum.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  log << "fields: " << sum.pieces_computed << " of " << plan.M * plan.B << " (model, block) pieces computed, "
      << sum.pieces_reused << " reused from the checkpoint";
  if (sum.pieces_resumed) log << ", " << sum.pieces_resumed << " resumed from partial shards";
  if (sum.pieces_corrupt) log << ", " << sum.pieces_corrupt << " corrupt ones recomputed";
  log << " (" << sum.points << " points in " << sum.seconds << " s)\n";
  const auto stop_error = [&] {
    CheckpointedStop stop("stopped by signal " + std::to_string(signals::stop_signal()) + ": finished shards are in " +
                          ckpt.dir() + "; rerun the same command to resume");
    stop.set_shared();
    return stop;
  };
  if (world.allreduce_max(stopped || signals::stop_requested() ? 1 : 0)) throw stop_error();

  // Phase 2: pair sums per block, cached.
  const comm::Comm shard_comm = world.split(plan.active() ? plan.shard : MPI_UNDEFINED, plan.group);
  auto identity = [](int64_t, const at::Tensor& f) { return f; };
  // Not in collective(): the shard's ranks are inside their own collectives, so
  // an error on one rank ends the job through the CLI's MPI_Abort.
  std::pair<int64_t, int64_t> pc = pair_phase("plain", plan, cfg, ckpt, shard_comm, identity);
  std::vector<FeatureMoments> moments;
  if (standardized) {
    // Global feature moments of each model: the shards' sums, reduced.
    std::vector<double> buf(static_cast<size_t>(plan.M * (1 + 2 * plan.D)), 0.0);
    comm::collective(world, [&] {
      if (!plan.active() || plan.shard < 0) return;
      for (const int64_t k : plan.blocks)
        for (int64_t m = plan.model_lo; m < plan.model_hi; ++m) {
          const FeatureMoments mom = ckpt.read_moments(models.at(m).name(), k, plan.D);
          for (size_t i = 0; i < mom.raw().size(); ++i) buf[static_cast<size_t>(m * (1 + 2 * plan.D)) + i] += mom.raw()[i];
        }
    });
    world.allreduce_sum(buf);
    for (int64_t m = 0; m < plan.M; ++m) {
      FeatureMoments mom(plan.D);
      std::copy(buf.begin() + m * (1 + 2 * plan.D), buf.begin() + (m + 1) * (1 + 2 * plan.D), mom.raw().begin());
      moments.push_back(mom);
    }
    auto standardize = [&](int64_t m, const at::Tensor& f) {
      return moments[static_cast<size_t>(m)].standardize(f).to(at::kFloat);
    };
    const auto sc = pair_phase("standardized", plan, cfg, ckpt, shard_comm, standardize);
    pc.first += sc.first, pc.second += sc.second;
  }
  if (world.allreduce_max(signals::stop_requested() ? 1 : 0)) throw stop_error();
  // Each shard's rank 0 counted its blocks' pairs once per shard member: count them once.
  sum.pairs_computed = world.allreduce_sum(plan.active() && plan.group == 0 ? pc.first : 0);
  sum.pairs_reused = world.allreduce_sum(plan.active() && plan.group == 0 ? pc.second : 0);
  log << "pairs: " << sum.pairs_computed << " (pair, block) sums computed, " << sum.pairs_reused << " reused\n";
  world.barrier();  // every cache is on disk

  // Phase 3: matrices (rank 0, from the caches in block order) and the output file, collectively.
  std::vector<std::vector<double>> mats(cfg.metrics.size());
  std::vector<int64_t> zero(static_cast<size_t>(plan.M * plan.M), 0);
  comm::collective(world, [&] {
    if (plan.rank != 0) return;
    const DistanceAccumulator acc = gather_pairs("plain", plan, ckpt);
    const DistanceAccumulator std_acc = standardized ? gather_pairs("standardized", plan, ckpt) : DistanceAccumulator(plan.M);
    for (size_t i = 0; i < cfg.metrics.size(); ++i)
      mats[i] = cfg.metrics[i] == Metric::CosineStandardized ? std_acc.matrix(Metric::Cosine) : acc.matrix(cfg.metrics[i]);
    zero = acc.zero_norm_rows();
  });
  for (auto& m : mats) {
    m.resize(static_cast<size_t>(plan.M * plan.M));
    world.bcast(m);
  }
  sum.matrices = mats;

  const std::string created = world.bcast(now_iso());
  std::string placement_text;
  for (const auto& p : placement) placement_text += p + "\n";
  // Not wrapped in collective(): a failure inside HDF5's collective calls
  // cannot be agreed on; the CLI aborts the job instead (MPI_Abort).
  {
    FieldFile out(cfg.output_path, &world);
    const hid_t x = out.transfer();
    const bool w = out.writer();
    h5::write_strings(out.id(), "/models/names", sum.names, x, w);
    if (cfg.store_fields) {
      out.create_fields(sum.names, plan.N, plan.S, plan.D, cfg.half_fields);
      // Collective writes in rounds: every rank takes part in each, with or without data.
      const int64_t rounds = (plan.B + plan.grid.shards - 1) / plan.grid.shards;
      for (int64_t m = 0; m < plan.M; ++m)
        for (int64_t r = 0; r < rounds; ++r) {
          const bool mine = plan.active() && m >= plan.model_lo && m < plan.model_hi &&
                            r < static_cast<int64_t>(plan.blocks.size());
          const int64_t k = mine ? plan.blocks[static_cast<size_t>(r)] : 0;
          out.write_field_block(sum.names[static_cast<size_t>(m)], mine ? plan.block_range(k, cfg.block).first : 0,
                                mine ? ckpt.read_field(sum.names[static_cast<size_t>(m)], k) : at::Tensor());
        }
    }
    const hsize_t MM = static_cast<hsize_t>(plan.M);
    for (size_t i = 0; i < cfg.metrics.size(); ++i)
      h5::write(out.id(), "/distance/" + to_string(cfg.metrics[i]), h5::Type::F64, {MM, MM}, mats[i].data(), x, w);
    h5::write(out.id(), "/diagnostics/zero_norm_rows", h5::Type::I64, {MM, MM}, zero.data(), x, w);
    h5::write(out.id(), "/references/indices", h5::Type::I64, {static_cast<hsize_t>(plan.N)}, refs.indices.data(), x, w);
    if (refs.labels.defined()) {
      const at::Tensor l = refs.labels.to(at::kLong).contiguous();
      h5::write(out.id(), "/references/labels", h5::Type::I64, {static_cast<hsize_t>(plan.N)}, l.data_ptr<int64_t>(), x,
                w);
    }
    const std::string root = "/";
    h5::set_attr(out.id(), root, "config", cfg.resolved_yaml);
    h5::set_attr(out.id(), root, "modelgif_version", std::string(kVersion));
    h5::set_attr(out.id(), root, "libtorch_version", std::string(TORCH_VERSION));
    h5::set_attr(out.id(), root, "hdf5_version", h5::library_version());
    h5::set_attr(out.id(), root, "mpi_version", comm::library_version());
    h5::set_attr(out.id(), root, "yaml_cpp_version", std::string(MODELGIF_YAML_CPP_VERSION));
    h5::set_attr(out.id(), root, "boost_version", std::string(MODELGIF_BOOST_VERSION));
    h5::set_attr(out.id(), root, "created", created);
    h5::set_attr(out.id(), root, "placement", placement_text);
    h5::set_attr(out.id(), root, "grid", sum.grid);
    h5::set_attr(out.id(), root, "fingerprint", plan.fingerprint);
    h5::set_attr(out.id(), root, "ranks", static_cast<int64_t>(plan.ranks));
    h5::set_attr(out.id(), root, "references", plan.N);
    h5::set_attr(out.id(), root, "steps_kept", plan.S);
    h5::set_attr(out.id(), root, "features", plan.D);
    h5::set_attr(out.id(), root, "max_points", max_points);
    h5::set_attr(out.id(), root, "points", sum.points);
    out.commit();
  }
  log << "wrote " << cfg.output_path << " (checkpoint " << ckpt.dir() << ")\n";
  return sum;
}

}  // namespace modelgif
