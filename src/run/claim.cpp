// Phase 2: the output, claimed before any work. Rank 0 checks that the
// output path names a file and no input of the run (through links, and not
// inside a reference folder; no input inside the checkpoint, which
// --recompute may wipe), takes the run's lock, and removes what interrupted
// runs left behind.
#include <filesystem>

#include "base/files.hpp"
#include "modelgif/error.hpp"
#include "modelgif/references.hpp"
#include "run/lock.hpp"
#include "run/phases.hpp"

namespace fs = std::filesystem;

namespace modelgif {
namespace {

std::string canonical(const std::string& p) {
  std::error_code ec;
  const auto c = fs::weakly_canonical(fs::absolute(p, ec), ec);
  return ec ? p : c.string();
}

bool inside(const std::string& path, const std::string& folder) {
  return path.size() > folder.size() && path.compare(0, folder.size(), folder) == 0 && path[folder.size()] == '/';
}

// Every file or folder the run reads, named for a message.
std::vector<std::pair<std::string, std::string>> inputs_of(const RunConfig& cfg) {
  std::vector<std::pair<std::string, std::string>> in;
  std::error_code ec;
  if (!cfg.origin.empty() && fs::is_regular_file(cfg.origin, ec)) in.emplace_back("the config", cfg.origin);
  for (const auto& z : cfg.zoo) in.emplace_back("model '" + z.name + "'", z.path);
  std::string file, dataset;
  for (const auto& [key, spec] : {std::pair<std::string, std::string>{"references.source", cfg.refs.source},
                                  {"references.labels", cfg.refs.labels}})
    if (!spec.empty()) in.emplace_back(key, split_h5_spec(spec, file, dataset) ? file : spec);
  return in;
}

void check_output_path(const RunConfig& cfg) {
  const std::string& out = cfg.output_path;
  std::error_code ec;
  if (out.back() == '/' || fs::is_directory(out, ec))
    throw_input("output.path " + out + " is a folder: give a file name (" + (out.back() == '/' ? out : out + "/") +
                "out.h5, say)");
  const std::string ckpt = CheckpointStore::dir_for(out), c_out = canonical(out), c_ckpt = canonical(ckpt);
  for (const auto& [what, path] : inputs_of(cfg)) {
    const std::string c_in = canonical(path);
    const bool same = c_in == c_out || (fs::exists(out, ec) && fs::equivalent(out, path, ec));
    if (same) throw_input("output.path " + out + " is " + what + " (" + path + "): the run would overwrite its input");
    if (fs::is_directory(path, ec) && (inside(c_out, c_in) || inside(c_ckpt, c_in)))
      throw_input("output.path " + out + " lies inside " + what + " (" + path + "): write the result elsewhere");
    if (c_in == c_ckpt || inside(c_in, c_ckpt))
      throw_input(what + " (" + path + ") lies inside the run's checkpoint " + ckpt +
                  ", which the run rewrites: move it, or write the result elsewhere");
  }
}

}  // namespace

Claim claim_output(const RunContext& run, const CheckpointStore& store) {
  Claim claim;
  comm::collective(run.world, [&] {
    if (run.world.rank() != 0) return;
    check_output_path(run.cfg);
    ensure_parent_dir(run.cfg.output_path, "output " + run.cfg.output_path);
    std::error_code ec;
    claim.made_checkpoint = !fs::exists(store.dir(), ec);
    claim.lock = store.lock();
    const Temporaries gone = remove_temporaries(run.cfg.output_path);
    if (gone.count > 0)
      run.log.out() << "removed " << gone.count << " temporar" << (gone.count == 1 ? "y" : "ies") << " ("
                    << (gone.bytes + 999999) / 1000000 << " MB) that interrupted runs left\n";
  });
  return claim;
}

void remove_unused_checkpoint(const RunContext& run, const CheckpointStore& store, const Claim& claim) noexcept {
  if (run.world.rank() != 0 || !claim.made_checkpoint || !claim.lock.held()) return;
  try {
    if (store.holds_work()) return;
    std::error_code ec;
    fs::remove_all(store.dir(), ec);  // the lock goes with it; it is released when the run ends
  } catch (const std::exception&) {
  }
}

}  // namespace modelgif
