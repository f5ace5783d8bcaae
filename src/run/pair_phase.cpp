// Phase 7: pair sums. For each block, the G ranks of a reference shard pass
// their field blocks round a ring (floor(G/2) steps of sendrecv); at step t
// rank g meets group g - t and computes the cross pairs it owns, plus the pairs
// inside its own group. The block's sums are reduced over the shard (each pair
// comes from one rank, so the sum is exact) and cached in the checkpoint.
#include <ATen/ATen.h>

#include <cstring>
#include <sstream>

#include "modelgif/error.hpp"
#include "run/pair_cache.hpp"
#include "run/phases.hpp"
#include "run/signals.hpp"

namespace modelgif {
namespace {

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

// Views into `buf` (no copy); valid while `buf` lives.
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
    at::Tensor t = at::from_blob(const_cast<char*>(p), {rows, steps, features}, at::kFloat);
    p += t.numel() * 4;
    fields.push_back(t);
  }
}

// Shard rank 0 reads the block's cache and shares it, so that every rank of
// the shard decides alike which pairs are left.
PairCache shared_cache(const std::string& kind, RunState& run, const comm::Comm& shard_comm, int64_t k) {
  PairCache cache;
  std::string keys_text;
  if (shard_comm.rank() == 0) {
    std::string problem;
    cache = read_pair_cache(run.ckpt, kind, k, run.plan.fingerprint, &problem);
    if (!problem.empty()) run.notes.push_back(problem + ": its pairs are computed again");
    for (const auto& key : cache.keys) keys_text += key + "\n";
  }
  keys_text = shard_comm.bcast(keys_text);
  if (shard_comm.rank() != 0) {
    std::istringstream in(keys_text);
    for (std::string line; std::getline(in, line);) cache.keys.push_back(line);
    cache.sums.assign(static_cast<size_t>(DistanceAccumulator::kSums) * cache.keys.size() * cache.keys.size(), 0.0);
  }
  shard_comm.bcast(cache.sums);
  return cache;
}

// The new cache of a block: the old keys plus this zoo's, the old sums plus the new pairs.
PairCache merged_cache(const PairCache& old, const Plan& plan, const DistanceAccumulator& acc,
                       const std::function<bool(int64_t, int64_t)>& needed) {
  const auto old_index = old.index();
  PairCache out;
  out.keys = old.keys;
  for (const auto& key : plan.keys)
    if (!old_index.count(key)) out.keys.push_back(key);
  const size_t K = out.keys.size(), K0 = old.keys.size();
  const int W = DistanceAccumulator::kSums;
  out.sums.assign(static_cast<size_t>(W) * K * K, 0.0);
  for (int w = 0; w < W; ++w)
    for (size_t a = 0; a < K0; ++a)
      for (size_t b = 0; b < K0; ++b) out.sums[(w * K + a) * K + b] = old.sum(w, a, b);
  const auto index = out.index();
  for (int64_t a = 0; a < plan.M; ++a)
    for (int64_t b = 0; b < plan.M; ++b) {
      if (a == b || !needed(a, b)) continue;
      const size_t ia = index.at(plan.keys[static_cast<size_t>(a)]), ib = index.at(plan.keys[static_cast<size_t>(b)]);
      for (int w = 0; w < W; ++w)
        out.sums[(w * K + ia) * K + ib] = acc.raw()[static_cast<size_t>((w * plan.M + a) * plan.M + b)];
    }
  return out;
}

}  // namespace

PairCounts pair_phase(const std::string& kind, RunState& run, const comm::Comm& shard_comm,
                      const FieldTransform& transform) {
  PairCounts counts;
  const Plan& plan = run.plan;
  if (!plan.active()) return counts;
  const int G = plan.grid.groups, g = plan.group;
  const int64_t pairs_total = plan.M * (plan.M - 1) / 2;
  bool first = true;
  for (const int64_t k : plan.blocks) {
    // The shard stops together, but only after one block of this start: a run
    // stopped early in every allocation still gets on.
    if (!first && shard_comm.allreduce_max(signals::stop_requested() ? 1 : 0) > 0) break;
    const PairCache cache = shared_cache(kind, run, shard_comm, k);
    const auto cached = cache.index();
    const auto needed = [&](int64_t a, int64_t b) {
      const auto ia = cached.find(plan.keys[static_cast<size_t>(a)]),
                 ib = cached.find(plan.keys[static_cast<size_t>(b)]);
      return ia == cached.end() || ib == cached.end() || !cache.covers(ia->second, ib->second);
    };
    bool any = false;
    for (int64_t a = 0; a < plan.M && !any; ++a)
      for (int64_t b = a + 1; b < plan.M && !any; ++b) any = needed(a, b);
    if (!any) {
      counts.reused += pairs_total;
      continue;
    }
    first = false;
    // Own field blocks, transformed (standardized when asked: every rank has
    // the same global moments, so transformed blocks can travel as they are).
    std::vector<int64_t> own;
    std::vector<at::Tensor> fields;
    for (int64_t m = plan.model_lo; m < plan.model_hi; ++m) {
      own.push_back(m);
      fields.push_back(transform(m, run.ckpt.read_field(plan.names[static_cast<size_t>(m)], k)));
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
    counts.computed += done, counts.reused += pairs_total - done;
    if (shard_comm.rank() == 0)
      write_pair_cache(run.ckpt, kind, k, merged_cache(cache, plan, acc, needed), plan.fingerprint);
  }
  return counts;
}

DistanceAccumulator gather_pairs(const std::string& kind, const RunState& run) {
  const Plan& plan = run.plan;
  DistanceAccumulator acc(plan.M);
  for (int64_t k = 0; k < plan.B; ++k) {
    std::string problem;
    const PairCache cache = read_pair_cache(run.ckpt, kind, k, plan.fingerprint, &problem);
    if (!problem.empty()) throw_input(problem + "; rerun to compute its pairs again");
    const auto index = cache.index();
    for (int64_t a = 0; a < plan.M; ++a)
      for (int64_t b = 0; b < plan.M; ++b) {
        if (a == b) continue;
        const std::string &ka = plan.keys[static_cast<size_t>(a)], &kb = plan.keys[static_cast<size_t>(b)];
        const auto ia = index.find(ka), ib = index.find(kb);
        if (ia == index.end() || ib == index.end())
          throw_internal("pair sums of block " + std::to_string(k) + " miss " + ka + " / " + kb);
        if (!cache.covers(ia->second, ib->second))
          throw_internal("no pair sums of block " + std::to_string(k) + " for " + ka + " / " + kb);
        for (int w = 0; w < DistanceAccumulator::kSums; ++w)
          acc.raw()[static_cast<size_t>((w * plan.M + a) * plan.M + b)] += cache.sum(w, ia->second, ib->second);
      }
  }
  return acc;
}

void compute_pairs(RunState& run) {
  const Plan& plan = run.plan;
  const comm::Comm shard_comm = run.world.split(plan.active() ? plan.shard : MPI_UNDEFINED, plan.group);
  // Not in collective(): the shard's ranks are inside their own collectives, so
  // an error on one rank ends the job through the CLI's MPI_Abort.
  PairCounts pc = pair_phase("plain", run, shard_comm, [](int64_t, const at::Tensor& f) { return f; });
  if (run.cfg.wants(Metric::CosineStandardized)) {
    // Global feature moments of each model: the shards' sums, reduced.
    const size_t per_model = static_cast<size_t>(1 + 2 * plan.D);
    std::vector<double> buf(static_cast<size_t>(plan.M) * per_model, 0.0);
    comm::collective(run.world, [&] {
      if (!plan.active()) return;
      for (const int64_t k : plan.blocks)
        for (int64_t m = plan.model_lo; m < plan.model_hi; ++m) {
          const FeatureMoments mom = run.ckpt.read_moments(run.models.at(m).name(), k, plan.D);
          for (size_t i = 0; i < mom.raw().size(); ++i) buf[static_cast<size_t>(m) * per_model + i] += mom.raw()[i];
        }
    });
    run.world.allreduce_sum(buf);
    std::vector<FeatureMoments> moments;
    for (int64_t m = 0; m < plan.M; ++m) {
      FeatureMoments mom(plan.D);
      std::copy(buf.begin() + m * static_cast<int64_t>(per_model),
                buf.begin() + (m + 1) * static_cast<int64_t>(per_model), mom.raw().begin());
      moments.push_back(mom);
    }
    const auto sc = pair_phase("standardized", run, shard_comm, [&](int64_t m, const at::Tensor& f) {
      return moments[static_cast<size_t>(m)].standardize(f).to(at::kFloat);
    });
    pc.computed += sc.computed, pc.reused += sc.reused;
  }
  run.print_notes();
  if (run.world.allreduce_max(signals::stop_requested() ? 1 : 0)) throw_stopped(run);
  // Each shard's ranks all counted their blocks' pairs: count them once, from group 0.
  run.summary.pairs_computed = run.world.allreduce_sum(plan.active() && plan.group == 0 ? pc.computed : 0);
  run.summary.pairs_reused = run.world.allreduce_sum(plan.active() && plan.group == 0 ? pc.reused : 0);
  run.log << "pairs: " << run.summary.pairs_computed << " (pair, block) sums computed, " << run.summary.pairs_reused
          << " reused\n";
  run.world.barrier();  // every cache is on disk
}

}  // namespace modelgif
