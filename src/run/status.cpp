#include "run/status.hpp"

#include <filesystem>
#include <iomanip>

#include "modelgif/error.hpp"
#include "modelgif/result.hpp"
#include "run/store.hpp"

namespace fs = std::filesystem;

namespace modelgif {

int64_t RunStatus::pieces_left() const {
  int64_t left = 0;
  for (const auto& m : models) left += blocks - m.done;
  return left;
}

RunStatus read_status(const std::string& run, bool verify) {
  RunStatus st;
  std::string dir = run;
  while (!dir.empty() && dir.back() == '/') dir.pop_back();
  if (dir.size() > 5 && dir.substr(dir.size() - 5) == ".ckpt") {
    st.output = dir.substr(0, dir.size() - 5);
  } else {
    st.output = dir;
    dir = CheckpointStore::dir_for(dir);
  }
  st.checkpoint = dir;
  std::error_code ec;
  const bool output_exists = fs::is_regular_file(st.output, ec);
  st.output_complete = output_exists && is_result(st.output);
  st.holder = lock_holder(dir);
  st.temporaries = find_temporaries(st.output);
  const CheckpointStore store(dir);
  if (!store.has_manifest()) {
    st.has_manifest = false;
    const auto files = store.count_files();
    st.loose_shards = files.shards, st.loose_caches = files.sums;
    if (st.loose_shards + st.loose_caches > 0 || st.output_complete) return st;
    if (output_exists)
      throw_input("status: " + st.output + " is not a modelgif result, and there is no checkpoint " + dir);
    throw_input("status: no checkpoint at " + dir);
  }
  const Manifest man = store.read_manifest();
  st.fingerprint = man.fingerprint, st.fingerprint_text = man.text;
  st.references = man.references, st.blocks = man.blocks, st.block = man.block;
  st.max_points = man.tuning.max_points, st.fields_kept = man.fields == CheckpointFields::Keep;
  st.verified = verify;
  std::vector<ModelId> zoo;
  for (const auto& name : man.order) {
    const ModelRecord* r = man.find(name);
    zoo.push_back(r ? r->id : ModelId{name, ""});
  }
  // A block is done for the zoo when its plain sums cover every pair.
  std::vector<bool> summed(static_cast<size_t>(man.blocks));
  for (int64_t k = 0; k < man.blocks; ++k) {
    const auto sums = store.read_sums(SumKind::Plain, k, man.fingerprint);
    summed[static_cast<size_t>(k)] = zoo.size() < 2 || (sums && sums->covers_all(zoo));
    st.pair_blocks += summed[static_cast<size_t>(k)] ? 1 : 0;
  }
  for (const auto& id : zoo) {
    RunStatus::ModelProgress mp;
    mp.name = id.name;
    for (int64_t k = 0; k < man.blocks; ++k) {
      const int64_t rows = std::min(man.references, (k + 1) * man.block) - k * man.block;
      const ShardStatus s = store.probe(shard_id(man.fingerprint, id, k, rows), verify);
      if (s.kind == ShardStatus::Complete || (s.kind == ShardStatus::Missing && summed[static_cast<size_t>(k)]))
        ++mp.done;
      else if (s.kind == ShardStatus::Partial)
        ++mp.partial;
      else if (s.kind == ShardStatus::Corrupt || s.kind == ShardStatus::Mismatch)
        ++mp.corrupt;
    }
    st.models.push_back(mp);
  }
  return st;
}

namespace {

void print_one(const RunStatus& st, std::ostream& out) {
  out << "run " << st.output << ": " << (st.output_complete ? "output written" : "output not written yet") << "\n";
  if (!st.holder.empty()) out << "  in use by   " << st.holder << "\n";
  if (st.temporaries.count > 0)
    out << "  temporaries " << st.temporaries.count << " (" << (st.temporaries.bytes + 999999) / 1000000
        << " MB) left by interrupted runs; the next run removes them\n";
  if (!st.has_manifest) {
    if (st.loose_shards + st.loose_caches == 0) {
      out << "  its checkpoint was removed\n";
      return;
    }
    out << "  checkpoint  " << st.checkpoint << " has no manifest, but holds " << st.loose_shards
        << " field shards and " << st.loose_caches
        << " pair caches: rerunning the same config reuses the ones that match it\n";
    return;
  }
  out << "  checkpoint  " << st.checkpoint << " (checkpoint.fields: " << (st.fields_kept ? "keep" : "none")
      << "; shards " << (st.verified ? "read and checksummed" : "checked by header and size; --verify reads them")
      << ")\n";
  out << "  fingerprint " << st.fingerprint << "  (" << st.references << " references in " << st.blocks << " blocks of "
      << st.block << ", max_points " << st.max_points << ")\n";
  size_t w = 5;
  for (const auto& m : st.models) w = std::max(w, m.name.size());
  out << "  " << std::left << std::setw(static_cast<int>(w)) << "model" << std::right << "  blocks done\n";
  for (const auto& m : st.models) {
    out << "  " << std::left << std::setw(static_cast<int>(w)) << m.name << std::right << "  " << std::setw(5) << m.done
        << "/" << st.blocks;
    if (m.partial) out << "  (" << m.partial << " partial)";
    if (m.corrupt) out << "  (" << m.corrupt << " corrupt)";
    out << "\n";
  }
  const int64_t left = st.pieces_left();
  out << "  pairs cached for " << st.pair_blocks << "/" << st.blocks << " blocks\n";
  out << "  remaining: " << left << " (model, block) pieces";
  if (left == 0 && st.pair_blocks == st.blocks)
    out << (st.output_complete ? "; done" : "; only the output is left to write");
  out << "\n";
}

}  // namespace

void print_status(const std::string& run, std::ostream& out, bool verify) {
  std::error_code ec;
  if (fs::is_directory(run, ec) && !(run.size() > 5 && run.substr(run.size() - 5) == ".ckpt") &&
      !fs::exists(CheckpointStore::dir_for(run), ec)) {
    // A folder of runs (a sweep): every checkpoint one or two levels below.
    std::vector<std::string> found;
    for (fs::recursive_directory_iterator it(run, ec), end; !ec && it != end; it.increment(ec)) {
      if (it.depth() > 2) it.disable_recursion_pending();
      std::error_code kind;  // a dangling link is no folder, not a failure of the listing
      if (it->is_directory(kind) && it->path().extension() == ".ckpt") {
        found.push_back(it->path().string());
        it.disable_recursion_pending();
      }
    }
    if (ec) throw_input("status: cannot list " + run + ": " + ec.message());
    std::sort(found.begin(), found.end());
    if (found.empty()) throw_input("status: no run checkpoints under " + run);
    size_t unreadable = 0;
    for (const auto& f : found) try {
        print_one(read_status(f, verify), out);
      } catch (const Error& e) {
        out << "run " << f.substr(0, f.size() - 5) << ": cannot be read: " << e.what() << "\n";
        ++unreadable;
      }
    if (unreadable > 0)
      throw_input("status: " + std::to_string(unreadable) + " of " + std::to_string(found.size()) + " runs under " +
                  run + " could not be read (see above)");
    return;
  }
  print_one(read_status(run, verify), out);
}

}  // namespace modelgif
