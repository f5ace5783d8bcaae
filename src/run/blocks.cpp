// Phase 8: fields and pair sums, block by block. For each block of its
// reference shard, a rank obtains the fields of its group's models (a complete
// shard is read once and checked; anything else is computed, resuming a
// partial shard), the shard's G ranks pass them round a ring in memory
// (floor(G/2) steps of sendrecv: at step t rank g meets group g - t and
// computes the cross pairs it owns, plus the pairs inside its own group), and
// the block's sums are reduced over the shard (each pair comes from one rank,
// so the sum is exact) and stored. checkpoint.fields says whether the fields
// stay as shards (keep) or go once their sums are made (none).
// cosine_standardized first makes every piece's feature moments (a first
// pass), reduces them over the ranks, then makes both kinds of sums (a second
// pass: keep reads each shard once, none computes the fields again).
#include <ATen/ATen.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <exception>
#include <iomanip>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>

#include "modelgif/error.hpp"
#include "run/phases.hpp"
#include "run/progress.hpp"
#include "run/signals.hpp"

namespace modelgif {
namespace {

using Clock = std::chrono::steady_clock;

// Below this row norm PyTorch's cosine_similarity (which divides by
// max(|a| |b|, 1e-8)) no longer gives the cosine: the published code's
// distances to such a model go to 1, modelgif's (exact) do not.
constexpr double kTinyRowNorm = 1e-4;

// Field blocks travel between ranks as: count, then per model its index and
// rows, then floats, in host memory: pinned when the fields are on a GPU, whose
// copies are queued without waiting and waited for once, by the last (one
// stream: it ends after the others).
at::Tensor pack(const std::vector<int64_t>& models, const std::vector<at::Tensor>& fields) {
  std::vector<int64_t> head = {static_cast<int64_t>(models.size())};
  int64_t floats = 0;
  bool device = false;
  for (size_t i = 0; i < models.size(); ++i) {
    head.push_back(models[i]);
    head.push_back(fields[i].size(0));
    floats += fields[i].numel();
    device = device || fields[i].is_cuda();
  }
  const int64_t start = static_cast<int64_t>(head.size()) * 8;
  at::Tensor buf = at::empty({start + floats * 4}, at::TensorOptions().dtype(at::kByte).pinned_memory(device));
  std::memcpy(buf.data_ptr(), head.data(), static_cast<size_t>(start));
  int64_t offset = start;
  for (size_t i = 0; i < fields.size(); ++i) {
    const at::Tensor& f = fields[i];
    buf.slice(0, offset, offset + f.numel() * 4)
        .view(at::kFloat)
        .view(f.sizes())
        .copy_(f, device && i + 1 < fields.size());
    offset += f.numel() * 4;
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

// A block's sums of one kind, the same on every rank of a shard: its rank 0
// reads them and shares them (an unusable file is noted and recomputed).
PairSums shared_sums(const comm::Comm& shard, const CheckpointStore& store, SumKind kind, int64_t k,
                     const std::string& fingerprint, RunLog& log) {
  std::string keys_text;
  std::vector<double> sums;
  if (shard.rank() == 0) {
    std::string problem;
    const auto found = store.read_sums(kind, k, fingerprint, &problem);
    if (!problem.empty()) log.note(problem + ": its pairs are computed again");
    if (found) {
      for (const auto& m : found->models()) keys_text += m.name + "\n" + m.hash + "\n";
      sums = found->raw();
    }
  }
  keys_text = shard.bcast(keys_text);
  std::vector<ModelId> models;
  std::istringstream in(keys_text);
  for (std::string name, hash; std::getline(in, name) && std::getline(in, hash);) models.push_back({name, hash});
  sums.resize(static_cast<size_t>(PairSums::kSums) * models.size() * models.size());
  shard.bcast(sums);
  return PairSums(std::move(models), std::move(sums));
}

class BlockPhase {
 public:
  BlockPhase(const RunContext& run, const Plan& plan, const Reconciled& rec, const Placement& where, const Inputs& in,
             const Models& models, const RunNumerics& num, const CheckpointStore& store)
      : run_(run),
        cfg_(run.cfg),
        plan_(plan),
        rec_(rec),
        in_(in),
        models_(models),
        store_(store),
        engine_(run.cfg.field, num.tuning.max_points, where.device, num.numerics),
        engine_device_(where.device),
        keep_(run.cfg.checkpoint_fields == CheckpointFields::Keep),
        // none keeps shards only as the output's source, removed once it is written
        write_shards_(keep_ || run.cfg.store_fields),
        standardized_(run.cfg.wants(Metric::CosineStandardized)),
        started_(static_cast<double>(std::time(nullptr))),
        shard_(run.world.split(plan.active() ? plan.shard : MPI_UNDEFINED, plan.group)),
        progress_([this] { return count_done(); }, plan.M * plan.B, run.cfg.block * run.cfg.field.steps,
                  run.cfg.progress_interval, run.log.out(), plan.rank == 0) {}

  BlockWork run() {
    std::exception_ptr error;
    std::vector<FeatureMoments> moments;
    bool go_on = true;
    if (standardized_) {
      // The first pass has no collective calls inside a shard: a rank that
      // fails or stops leaves it, and the world agrees on both before the second.
      bool complete = true;
      if (plan_.active()) try {
          complete = moments_pass();
        } catch (const Error&) {
          error = std::current_exception();
        }
      go_on = run_.world.allreduce_max(!complete || error ? 1 : 0) == 0;
      work_.stopped = !go_on;
      if (go_on) moments = global_moments();
    }
    if (go_on && plan_.active()) try {
        sums_pass(moments);
      } catch (const Error& e) {
        // Shared within the shard: every rank of it is here. A rank's own
        // error (its shard waits for it) ends the job through the CLI instead.
        if (!e.shared()) throw;
        error = std::current_exception();
      }
    progress_.finish();
    // Every rank learns of an error (the lowest failing rank's).
    comm::collective(run_.world, [&] {
      if (error) std::rethrow_exception(error);
    });
    run_.log.print_notes();
    work_.stopped = run_.world.allreduce_max(work_.stopped || signals::stop_requested() ? 1 : 0) > 0;
    return work_;
  }

 private:
  int64_t count_done() const {
    const auto c = store_.count_files(keep_ ? 0 : started_);
    if (keep_) return c.shards;
    return c.moments + plan_.M * c.sums / static_cast<int64_t>(sum_kinds(cfg_).size());
  }

  ShardId id_of(int64_t m, int64_t k) const {
    const auto [lo, hi] = plan_.block_range(k);
    return shard_id(rec_.fingerprint, plan_.ids[static_cast<size_t>(m)], k, hi - lo);
  }

  void warn_if_tiny(const std::string& model, int64_t block, const at::Tensor& field) {
    if (field.numel() == 0 || warned_.count(model)) return;
    const double median = field.reshape({-1, field.size(-1)}).norm(2, 1).median().item<double>();
    if (!(median < kTinyRowNorm)) return;
    warned_.insert(model);
    std::ostringstream s;
    s << "modelgif: warning: model '" << model << "': its field rows are tiny (median norm " << std::setprecision(2)
      << median << " < " << kTinyRowNorm << " on reference block " << block
      << "): its output barely depends on its input (untrained? wrong preprocessing?). modelgif's cosine stays "
         "exact; PyTorch's cosine_similarity (the published code) would put every distance to it near 1.\n";
    std::cerr << s.str() << std::flush;
  }

  // One piece: the field of own model m on block k. `need`: the caller needs
  // the field in memory (else a complete shard is not read, and in none mode a
  // piece is not computed). `again`: in none mode, a computation of a piece
  // whose field was made before. Returns the field, or an undefined tensor
  // when it was not needed or a signal stopped it (then stopped_ is set).
  at::Tensor piece(int64_t m, int64_t k, bool need, bool again, FeatureMoments* moments = nullptr) {
    const ShardId id = id_of(m, k);
    const std::string& name = id.model.name;
    ShardStatus st = store_.probe(id, false);
    if (st.kind == ShardStatus::Mismatch) {
      if (!run_.opt.recompute)
        throw_input("checkpoint shard " + store_.shard_path(name, k) + " does not belong to this run (" + st.reason +
                    "); rerun with --recompute");
      st = ShardStatus{};
    }
    // A shard the output will copy (output.store_fields) is checked now, when
    // a bad one can still be computed again.
    if (st.kind == ShardStatus::Complete && !need && cfg_.store_fields) st = store_.probe(id, true);
    if (st.kind == ShardStatus::Complete) {
      if (!need) return count_reused(), at::Tensor();
      try {
        const at::Tensor f = store_.read_shard(id, moments).to(engine_device_);
        count_reused();
        return f;
      } catch (const InputError& e) {
        st.kind = ShardStatus::Corrupt, st.reason = e.what();
      }
    }
    if (st.kind == ShardStatus::Corrupt) {
      ++work_.corrupt;
      run_.log.note("checkpoint shard " + store_.shard_path(name, k) + " is corrupt (" + st.reason + "): recomputing");
      st = ShardStatus{};
    }
    if (!need && !write_shards_) return count_reused(), at::Tensor();
    at::Tensor field;
    int64_t from = 0;
    if (st.kind == ShardStatus::Partial) {
      field = store_.read_partial(id).to(engine_device_);
      from = st.completed;
      ++work_.resumed;
    }
    const auto [lo, hi] = plan_.block_range(k);
    const Model& model = models_.at(m);
    const at::Tensor y = in_.refs.labels.defined() ? in_.refs.labels.slice(0, lo + from, hi) : at::Tensor();
    const auto keep_going = [&] {
      progress_.tick();
      return !signals::stop_requested();
    };
    const ModelFn fn = model.fn(), target = model.float32_fn();
    FieldRequest request{
        fn,        name,      in_.refs.images.slice(0, lo + from, hi), in_.baselines.slice(0, lo + from, hi), y,
        lo + from, keep_going};
    request.target_model = &target;
    const auto t0 = Clock::now();
    const auto [rest, done] = engine_.compute(request);
    work_.field_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    work_.points += done * cfg_.field.steps;
    field = field.defined() ? at::cat({field, rest.slice(0, 0, done)}) : rest;
    const int64_t completed = from + done;
    if (completed < id.rows) {  // stopped: keep the finished references
      if (write_shards_ && completed > 0) store_.write_shard(id, field, completed, nullptr);
      stopped_ = true;
      return at::Tensor();
    }
    warn_if_tiny(name, k, field);
    FeatureMoments mom(plan_.D);
    if (standardized_) mom.add(field);
    if (write_shards_) store_.write_shard(id, field, completed, standardized_ ? &mom : nullptr);
    if (moments && standardized_) *moments = mom;
    // The second pass computes a kept piece only when its shard turned out
    // damaged: the first pass, which read its moments alone, counted it reused.
    if (second_pass_ && keep_) --work_.reused;
    ++(again && !keep_ ? work_.again : work_.computed);
    progress_.tick();
    return field;
  }

  // A piece reused: counted by the first pass that meets it (cosine_standardized's
  // second pass meets every piece again).
  void count_reused() {
    if (!second_pass_) ++work_.reused;
  }

  // First pass of cosine_standardized: every own piece's feature moments
  // (stored, or from its field), summed over this rank's blocks into
  // moments_. False when a signal stopped it.
  bool moments_pass() {
    moments_.assign(static_cast<size_t>(plan_.M), FeatureMoments(plan_.D));
    for (const int64_t k : plan_.blocks)
      for (int64_t m = plan_.model_lo; m < plan_.model_hi; ++m) {
        if (signals::stop_requested()) return false;
        const ShardId id = id_of(m, k);
        // none: the moments file alone (its shards, if any, are scratch).
        std::optional<FeatureMoments> mom = store_.read_moments(id, plan_.D, keep_);
        if (mom) {
          ++work_.reused;
        } else {
          FeatureMoments made;
          const at::Tensor f = piece(m, k, true, false, &made);
          if (!f.defined()) return false;                                       // stopped
          if (made.raw().empty()) made = FeatureMoments(plan_.D), made.add(f);  // a shard made without them
          if (!store_.read_moments(id, plan_.D, keep_)) store_.write_moments(id, made);
          mom = made;
        }
        const auto& raw = mom->raw();
        auto& into = moments_[static_cast<size_t>(m)].raw();
        for (size_t i = 0; i < raw.size(); ++i) into[i] += raw[i];
      }
    return true;
  }

  // The zoo's global moments: each (model, block) piece counted by its one rank.
  std::vector<FeatureMoments> global_moments() {
    const size_t per = static_cast<size_t>(1 + 2 * plan_.D);
    std::vector<double> buf(static_cast<size_t>(plan_.M) * per, 0.0);
    if (plan_.active())
      for (int64_t m = plan_.model_lo; m < plan_.model_hi; ++m)
        std::copy(moments_[static_cast<size_t>(m)].raw().begin(), moments_[static_cast<size_t>(m)].raw().end(),
                  buf.begin() + m * static_cast<int64_t>(per));
    run_.world.allreduce_sum(buf);
    std::vector<FeatureMoments> out;
    for (int64_t m = 0; m < plan_.M; ++m) {
      FeatureMoments mom(plan_.D);
      std::copy(buf.begin() + m * static_cast<int64_t>(per), buf.begin() + (m + 1) * static_cast<int64_t>(per),
                mom.raw().begin());
      out.push_back(mom);
    }
    return out;
  }

  // The pass that makes the sums: every block of this shard, in order.
  void sums_pass(const std::vector<FeatureMoments>& moments) {
    second_pass_ = standardized_;
    const std::vector<SumKind> kinds = sum_kinds(cfg_);
    for (const int64_t k : plan_.blocks) {
      if (shard_.allreduce_max(signals::stop_requested() ? 1 : 0) > 0) {
        work_.stopped = true;
        return;
      }
      std::vector<PairSums> stored;
      bool any = false;
      for (const SumKind kind : kinds) {
        stored.push_back(shared_sums(shard_, store_, kind, k, rec_.fingerprint, run_.log));
        any = any || !stored.back().covers_all(plan_.ids);
      }
      // A piece made again: none keeps no fields (an old model of a grown zoo,
      // or cosine_standardized's second pass).
      std::vector<at::Tensor> fields;
      std::vector<int64_t> own;
      comm::collective(shard_, [&] {
        for (int64_t m = plan_.model_lo; m < plan_.model_hi && !stopped_; ++m) {
          const bool again = standardized_ || stored[0].find(plan_.ids[static_cast<size_t>(m)]).has_value();
          own.push_back(m);
          fields.push_back(piece(m, k, any, again));
        }
      });
      // A rank that stopped inside its pieces stops the shard; when every
      // field of the block is there, its sums are made first (a start that
      // is stopped early still finishes a block).
      if (shard_.allreduce_max(stopped_ ? 1 : 0) > 0) {
        work_.stopped = true;
        return;
      }
      if (!any) {
        work_.pairs_reused += static_cast<int64_t>(kinds.size()) * plan_.M * (plan_.M - 1) / 2;
        continue;
      }
      for (size_t i = 0; i < kinds.size(); ++i) {
        std::vector<at::Tensor> transformed = fields;
        if (kinds[i] == SumKind::Standardized)
          for (size_t j = 0; j < own.size(); ++j)
            transformed[j] = moments[static_cast<size_t>(own[j])].standardize(fields[j]).to(at::kFloat);
        block_sums(kinds[i], k, own, transformed, stored[i]);
      }
    }
  }

  // One block's sums of one kind from the shard's fields in memory: the
  // pairs not stored yet, round the ring; reduced and stored by shard rank 0.
  void block_sums(SumKind kind, int64_t k, const std::vector<int64_t>& own, const std::vector<at::Tensor>& fields,
                  const PairSums& stored) {
    const auto t0 = Clock::now();
    struct Timed {
      double& into;
      Clock::time_point from;
      ~Timed() { into += std::chrono::duration<double>(Clock::now() - from).count(); }
    } timed{work_.pair_seconds, t0};
    const int G = plan_.grid.groups, g = plan_.group;
    const auto needed = [&](int64_t a, int64_t b) {
      return !stored.covers(plan_.ids[static_cast<size_t>(a)], plan_.ids[static_cast<size_t>(b)]);
    };
    DistanceAccumulator acc(plan_.M);
    int64_t done_here = 0;
    auto wanted = [&](const std::vector<int64_t>& xs, const std::vector<int64_t>& ys, bool same) {
      std::vector<std::vector<bool>> w(xs.size(), std::vector<bool>(ys.size(), false));
      for (size_t i = 0; i < xs.size(); ++i)
        for (size_t j = same ? i + 1 : 0; j < ys.size(); ++j)
          if (needed(xs[i], ys[j])) w[i][j] = true, ++done_here;
      return w;
    };
    acc.add_pairs_within(own, fields, wanted(own, own, true));
    // Ring: at step t receive group g - t; group pair {g, h} belongs to the rank
    // that meets it first (t < G - t), ties broken by the lower group.
    const at::Tensor mine = G > 1 ? pack(own, fields) : at::Tensor();
    for (int t = 1; t <= G / 2; ++t) {
      const int dest = (g + t) % G, src = (g - t + G) % G;
      const auto buf = shard_.sendrecv(static_cast<const char*>(mine.data_ptr()), mine.numel(), dest, src);
      const bool owner = t < G - t || (t == G - t && g < src);
      if (!owner) continue;
      std::vector<int64_t> theirs;
      std::vector<at::Tensor> visiting;  // views into buf
      unpack(buf, plan_.S, plan_.D, theirs, visiting);
      for (auto& v : visiting) v = v.to(engine_device_);  // a CUDA rank pairs on its device
      acc.add_pairs(own, fields, theirs, visiting, wanted(own, theirs, false));
    }
    // Each pair was computed by exactly one rank: the sum over the shard is exact.
    shard_.allreduce_sum(acc.raw());
    const int64_t done = shard_.allreduce_sum(done_here);
    if (plan_.group == 0)  // every rank of the shard counted the same pairs: once
      work_.pairs_computed += done, work_.pairs_reused += plan_.M * (plan_.M - 1) / 2 - done;
    if (shard_.rank() != 0) return;
    PairSums out = stored.extended(plan_.ids);
    for (int64_t a = 0; a < plan_.M; ++a)
      for (int64_t b = a + 1; b < plan_.M; ++b)
        if (needed(a, b)) out.take(acc, plan_.ids, a, b);
    store_.write_sums(kind, k, out, rec_.fingerprint);
  }

  const RunContext& run_;
  const RunConfig& cfg_;
  const Plan& plan_;
  const Reconciled& rec_;
  const Inputs& in_;
  const Models& models_;
  const CheckpointStore& store_;
  const FieldEngine engine_;
  const c10::Device engine_device_;
  const bool keep_, write_shards_, standardized_;
  const double started_;
  const comm::Comm shard_;
  Progress progress_;
  BlockWork work_;
  bool stopped_ = false;                 // this rank stopped inside a piece
  bool second_pass_ = false;             // cosine_standardized's sums pass
  std::vector<FeatureMoments> moments_;  // own models, over this rank's blocks
  std::set<std::string> warned_;         // models already warned about tiny fields
};

}  // namespace

BlockWork compute_blocks(const RunContext& run, const Plan& plan, const Reconciled& rec, const Placement& where,
                         const Inputs& in, const Models& models, const RunNumerics& num, const CheckpointStore& store) {
  return BlockPhase(run, plan, rec, where, in, models, num, store).run();
}

[[noreturn]] void throw_stopped(const CheckpointStore& store) {
  throw_shared(CheckpointedStop("stopped by signal " + std::to_string(signals::stop_signal()) +
                                ": finished work is in " + store.dir() + "; rerun the same command to resume"));
}

}  // namespace modelgif
