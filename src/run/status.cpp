#include "run/status.hpp"

#include <filesystem>
#include <iomanip>

#include "modelgif/error.hpp"
#include "run/checkpoint.hpp"
#include "run/pair_cache.hpp"

namespace fs = std::filesystem;

namespace modelgif {

int64_t RunStatus::pieces_left() const {
  int64_t left = 0;
  for (const auto& m : models) left += blocks - m.done;
  return left;
}

RunStatus read_status(const std::string& run) {
  RunStatus st;
  std::string dir = run;
  while (!dir.empty() && dir.back() == '/') dir.pop_back();
  if (dir.size() > 5 && dir.substr(dir.size() - 5) == ".ckpt") {
    st.output = dir.substr(0, dir.size() - 5);
  } else {
    st.output = dir;
    dir = Checkpoint::dir_for(dir);
  }
  st.checkpoint = dir;
  std::error_code ec;
  st.output_complete = fs::is_regular_file(st.output, ec);
  const Checkpoint ckpt(dir);
  if (!ckpt.has_manifest())
    throw_input("status: no checkpoint at " + dir +
                (st.output_complete ? " (the output exists: the run finished and its checkpoint was removed)" : ""));
  const Manifest man = ckpt.read_manifest();
  st.fingerprint = man.fingerprint, st.fingerprint_text = man.text;
  st.references = man.references, st.blocks = man.blocks, st.block = man.block, st.max_points = man.max_points;
  for (const auto& name : man.order) {
    RunStatus::ModelProgress mp;
    mp.name = name;
    const auto it = man.models.find(name);
    const std::string key = name + "@" + (it == man.models.end() ? "" : it->second);
    for (int64_t k = 0; k < man.blocks; ++k) {
      const int64_t rows = std::min(man.references, (k + 1) * man.block) - k * man.block;
      const ShardStatus s = ckpt.probe(name, k, shard_fingerprint(man.fingerprint, key, k), rows);
      if (s.kind == ShardStatus::Complete)
        ++mp.done;
      else if (s.kind == ShardStatus::Partial)
        ++mp.partial;
      else if (s.kind == ShardStatus::Corrupt || s.kind == ShardStatus::Mismatch)
        ++mp.corrupt;
    }
    st.models.push_back(mp);
  }
  for (int64_t k = 0; k < man.blocks; ++k) {
    const auto cache = read_pair_cache(ckpt, "plain", k, man.fingerprint);
    bool all = !cache.keys.empty();
    for (const auto& m : man.order) {
      const auto it = man.models.find(m);
      const std::string key = m + "@" + (it == man.models.end() ? "" : it->second);
      all = all && std::find(cache.keys.begin(), cache.keys.end(), key) != cache.keys.end();
    }
    st.pair_blocks += all ? 1 : 0;
  }
  return st;
}

void print_status(const std::string& run, std::ostream& out) {
  std::error_code ec;
  if (fs::is_directory(run, ec) && !(run.size() > 5 && run.substr(run.size() - 5) == ".ckpt") &&
      !fs::exists(Checkpoint::dir_for(run), ec)) {
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
    for (const auto& f : found) print_status(f, out);
    return;
  }
  const RunStatus st = read_status(run);
  out << "run " << st.output << ": " << (st.output_complete ? "output written" : "output not written yet") << "\n";
  out << "  checkpoint  " << st.checkpoint << "\n";
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

}  // namespace modelgif
