// `modelgif run`: one run of a config on P >= 1 ranks.
#include "base/files.hpp"
#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "modelgif/comm.hpp"
#include "modelgif/error.hpp"
#include "modelgif/pipeline.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {

po::options_description run_options() {
  po::options_description desc("options of 'modelgif run' (every config key can be given as --KEY VALUE)");
  desc.add_options()("help,h", "this help")("config,c", po::value<std::string>(), "YAML run config")(
      "zoo", po::value<std::vector<std::string>>()->composing(),
      "NAME=PATH: a zoo model (repeatable; replaces the config's zoo)")(
      "recompute",
      "discard checkpoint shards that do not match this run (changed config or model file) instead of refusing")(
      "report", po::value<std::string>(),
      "FILE: write there at exit what this run finished and what is left (key: value lines; the SLURM batch "
      "script requeues a job while its starts finish new work)");
  po::options_description keys("config keys");
  for (const auto& k : config_keys()) {
    const std::string dflt = k.default_yaml.empty() ? "" : " [default: " + k.default_yaml + "]";
    keys.add_options()(k.key.c_str(), po::value<std::string>(), (k.help + dflt).c_str());
  }
  desc.add(keys);
  return desc;
}

RunArgs run_args_of(const po::variables_map& vm) {
  RunArgs a;
  if (vm.count("config")) a.config = vm["config"].as<std::string>();
  for (const auto& k : config_keys())
    if (vm.count(k.key)) a.overrides.emplace_back(k.key, vm[k.key].as<std::string>());
  if (vm.count("zoo")) a.zoo = vm["zoo"].as<std::vector<std::string>>();
  a.recompute = vm.count("recompute") > 0;
  if (vm.count("report")) a.report = vm["report"].as<std::string>();
  return a;
}

RunConfig load_run_config(const RunArgs& args) {
  const comm::Comm world = comm::Comm::world();
  std::string text, origin = "(command line)";
  if (!args.config.empty()) {
    origin = args.config;
    comm::on_root(&world, [&] { text = read_text_file(args.config, "config"); });
    text = world.bcast(text);
  }
  try {
    return load_config(text, origin, args.overrides, args.zoo);
  } catch (Error& e) {
    e.set_shared();  // every rank parsed the same text
    throw;
  }
}

void write_run_pictures(const RunConfig& cfg, const RunSummary& summary, std::ostream& out) {
  if (!cfg.pictures) return;
  RunResult r;
  r.names = summary.names;
  for (const Metric m : summary.metrics) r.metrics.push_back(to_string(m));
  r.matrices = summary.matrices;
  out << "\n";
  print_pictures(out, write_result_pictures(cfg.output_path, r, PictureOptions{}));
}

int cmd_run(const Args& args, std::ostream& out) {
  const po::options_description desc = run_options();
  po::variables_map vm;
  if (!parse_command(args, desc, nullptr,
                     "usage: modelgif run --config FILE.yaml [--KEY VALUE ...] [--zoo NAME=PATH ...] [--recompute]\n\n"
                     "Computes every zoo model's gradient field on the references and writes the\n"
                     "distance matrices (and optionally the fields) to output.path.",
                     out, vm))
    return kExitOk;
  const RunArgs run_args = run_args_of(vm);
  if (run_args.config.empty() && run_args.zoo.empty())
    throw_usage(
        "run: give a config (modelgif run --config FILE.yaml), or the zoo and keys on the command line "
        "(--zoo NAME=PATH ... --references.source ...)");
  const RunConfig cfg = load_run_config(run_args);
  RunOptions opt;
  opt.recompute = run_args.recompute;
  opt.report_path = run_args.report;
  const RunSummary s = run_pipeline(cfg, out, opt);  // only rank 0 writes to `out`
  if (comm::Comm::world().rank() == 0) {
    for (size_t i = 0; i < s.metrics.size(); ++i)
      out << "\n" << to_string(s.metrics[i]) << " distance:\n" << format_matrix(s.names, s.matrices[i]);
    write_run_pictures(cfg, s, out);
  }
  return kExitOk;
}

}  // namespace modelgif::cli
