#include "modelgif/cli.hpp"

#include <ATen/ATen.h>
#include <boost/program_options.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <functional>
#include <map>
#include <sstream>

#include "cli/commands.hpp"
#include "modelgif/comm.hpp"
#include "testbeds/demo.hpp"
#include "run/status.hpp"
#include "base/files.hpp"
#include "modelgif/error.hpp"
#include "analysis/eval.hpp"
#include "analysis/svg.hpp"
#include "testbeds/testbed.hpp"
#include "run/result_file.hpp"
#include "modelgif/pipeline.hpp"
#include "modelgif/version.hpp"
#include "modelgif/model.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {
namespace {

std::ostream& null_stream() {
  static std::ostringstream sink;
  sink.str("");
  return sink;
}


constexpr int kStyle = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;

const char* const kUsage =
    "usage: modelgif <command> [options]\n"
    "\n"
    "ModelGiF: functional distances between neural networks from their gradient fields.\n"
    "\n"
    "commands:\n"
    "  run    compute the fields of a model zoo and write distance matrices (HDF5)\n"
    "  show   print the distance matrices of a result file\n"
    "  status show a run's checkpoint: progress per model, fingerprint, what remains\n"
    "  compare check that two result files agree (distances and stored fields)\n"
    "  eval   fingerprinting AUC, unlearning distances, task-relatedness Spearman\n"
    "  zoo    train a testbed zoo on Fashion-MNIST (cached; one model per MPI rank)\n"
    "  submit submit a run to SLURM (checkpoints and requeues itself on time limits)\n"
    "  sweep  submit a sweep as a SLURM job array, collect its results, list it\n"
    "  demo   train (once, cached) the built-in Fashion-MNIST zoo and run on it\n"
    "\n"
    "options:\n"
    "  -h [ --help ]     this help; 'modelgif <command> --help' for a command\n"
    "  --version         print the version\n"
    "\n"
    "exit codes: 0 ok, 1 internal error, 2 bad command line or config,\n"
    "            3 unusable model/reference/output file, 4 NaN/Inf in a field,\n"
    "            75 stopped by SIGTERM/SIGUSR1 after checkpointing: rerun to resume\n";

int cmd_run(const std::vector<std::string>& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif run' (every config key can be given as --KEY VALUE)");
  desc.add_options()("help,h", "this help")("config,c", po::value<std::string>(), "YAML run config")(
      "zoo", po::value<std::vector<std::string>>()->composing(), "NAME=PATH: a zoo model (repeatable; replaces the config's zoo)")(
      "recompute", "discard checkpoint shards that do not match this run (changed config or model file) instead of refusing");
  po::options_description keys("config keys");
  for (const auto& k : config_keys()) {
    const std::string dflt = k.default_yaml.empty() ? "" : " [default: " + k.default_yaml + "]";
    keys.add_options()(k.key.c_str(), po::value<std::string>(), (k.help + dflt).c_str());
  }
  desc.add(keys);
  po::variables_map vm;
  if (!parse_command(args, desc, nullptr,
                     "usage: modelgif run --config FILE.yaml [--KEY VALUE ...] [--zoo NAME=PATH ...] [--recompute]\n\n"
                     "Computes every zoo model's gradient field on the references and writes the\n"
                     "distance matrices (and optionally the fields) to output.path.",
                     out, vm))
    return kExitOk;
  std::vector<std::pair<std::string, std::string>> overrides;
  for (const auto& k : config_keys())
    if (vm.count(k.key)) overrides.emplace_back(k.key, vm[k.key].as<std::string>());
  const auto zoo = vm.count("zoo") ? vm["zoo"].as<std::vector<std::string>>() : std::vector<std::string>{};
  // Rank 0 reads the config file and broadcasts its text; every rank parses it.
  const comm::Comm world = comm::Comm::world();
  std::string text, origin = "(command line)", failure;
  if (vm.count("config")) {
    origin = vm["config"].as<std::string>();
    if (world.rank() == 0) {
      std::ifstream in(origin);
      std::stringstream ss;
      ss << in.rdbuf();
      if (!in) failure = "config " + origin + ": cannot read the file";
      text = ss.str();
    }
    failure = world.bcast(failure);
    if (!failure.empty()) throw_shared(UsageError(failure));
    text = world.bcast(text);
  }
  RunConfig cfg;
  try {
    cfg = load_config(text, origin, overrides, zoo);
  } catch (Error& e) {
    e.set_shared();  // every rank parsed the same text
    throw;
  }
  RunOptions opt;
  opt.recompute = vm.count("recompute") > 0;
  const RunSummary s = run_pipeline(cfg, world.rank() == 0 ? out : null_stream(), opt);
  if (world.rank() == 0)
    for (size_t i = 0; i < s.metrics.size(); ++i)
      out << "\n" << to_string(s.metrics[i]) << " distance:\n" << format_matrix(s.names, s.matrices[i]);
  return kExitOk;
}

int cmd_show(const std::vector<std::string>& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif show'");
  desc.add_options()("help,h", "this help")("file", po::value<std::string>(), "result file (HDF5)")(
      "metric", po::value<std::string>(), "show only this metric")("precision", po::value<int>()->default_value(4),
                                                                   "digits after the point");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, &pos,
                     "usage: modelgif show RESULT.h5 [--metric NAME] [--precision P]\n\n"
                     "Prints the distance matrices of a result file with model names.",
                     out, vm))
    return kExitOk;
  if (!vm.count("file")) throw_usage("show: give a result file (modelgif show RESULT.h5)");
  const std::string path = vm["file"].as<std::string>();
  if (!std::filesystem::exists(path)) throw_input("show: no such file " + path);
  const RunResult r = read_result(path);
  bool shown = false;
  for (size_t i = 0; i < r.metrics.size(); ++i) {
    if (vm.count("metric") && vm["metric"].as<std::string>() != r.metrics[i]) continue;
    out << (shown ? "\n" : "") << r.metrics[i] << " distance:\n"
        << format_matrix(r.names, r.matrices[i], vm["precision"].as<int>());
    shown = true;
  }
  if (!shown) throw_usage("show: " + path + " has no metric " + vm["metric"].as<std::string>());
  return kExitOk;
}

int cmd_compare(const std::vector<std::string>& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif compare'");
  double rtol = 1e-6;
  desc.add_options()("help,h", "this help")("files", po::value<std::vector<std::string>>(), "two result files")(
      "rtol", po::value(&rtol)->default_value(1e-6), "largest relative difference accepted");
  po::positional_options_description pos;
  pos.add("files", 2);
  po::variables_map vm;
  if (!parse_command(args, desc, &pos,
                     "usage: modelgif compare A.h5 B.h5 [--rtol R]\n\n"
                     "Compares two result files: the same models and metrics, every distance within\n"
                     "relative R, and the stored fields of models both files hold (relative to the\n"
                     "field's largest value). Prints the largest differences; exit 0 when they agree,\n"
                     "1 when they do not.",
                     out, vm))
    return kExitOk;
  const auto files = vm.count("files") ? vm["files"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (files.size() != 2) throw_usage("compare: give two result files");
  for (const auto& f : files)
    if (!std::filesystem::exists(f)) throw_input("compare: no such file " + f);
  const RunResult a = read_result(files[0]), b = read_result(files[1]);
  if (a.names != b.names) throw_input("compare: " + files[0] + " and " + files[1] + " hold different models");
  if (a.metrics != b.metrics) throw_input("compare: " + files[0] + " and " + files[1] + " hold different metrics");
  bool same = true;
  for (size_t i = 0; i < a.metrics.size(); ++i) {
    double worst = 0;
    for (size_t j = 0; j < a.matrices[i].size(); ++j)
      worst = std::max(worst, std::fabs(a.matrices[i][j] - b.matrices[i][j]) /
                                  std::max(1e-300, std::max(std::fabs(a.matrices[i][j]), std::fabs(b.matrices[i][j]))));
    out << a.metrics[i] << ": largest relative difference " << worst << "\n";
    same = same && worst <= rtol;
  }
  for (const auto& name : a.names) {
    at::Tensor fa, fb;
    try {
      fa = read_fields(files[0], name), fb = read_fields(files[1], name);
    } catch (const InputError&) {
      continue;  // fields not stored in both
    }
    if (fa.sizes() != fb.sizes()) throw_input("compare: fields of '" + name + "' have different shapes");
    const double worst = (fa - fb).abs().max().item<double>() / std::max(1e-30, fb.abs().max().item<double>());
    out << "fields of " << name << ": largest difference " << worst << " of the largest value\n";
    same = same && worst <= rtol;
  }
  out << (same ? "same within " : "DIFFERENT beyond ") << rtol << "\n";
  return same ? kExitOk : kExitDifferent;
}

int cmd_eval(const std::vector<std::string>& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif eval'");
  std::string file, roles_path, metric;
  std::vector<int64_t> counts;
  desc.add_options()("help,h", "this help")("file", po::value(&file), "result file (HDF5)")(
      "roles", po::value(&roles_path), "the zoo's roles (YAML: fingerprinting, unlearning, relatedness)")(
      "counts", po::value<std::string>()->default_value("8,16,32,64,128,256"),
      "fingerprinting: reference counts for the AUC table (needs stored fields)")(
      "metric", po::value(&metric)->default_value("cosine"), "unlearning, relatedness and pictures: the metric to use")(
      "selection", po::bool_switch(), "fingerprinting: also report AUC on references chosen by the selection rule "
                                      "(half of each kind and of the negatives choose, the other half is evaluated)")(
      "pictures", po::value<std::string>()->default_value(""),
      "folder for the SVG pictures (default: beside the result, RESULT-<picture>.svg)");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, &pos,
                     "usage: modelgif eval RESULT.h5 --roles ROLES.yaml [--counts 8,16,...] [--metric NAME]\n\n"
                     "Reports what the paper reports: ROC AUC per attack kind against the number of\n"
                     "references (fingerprinting), reference <-> approximate / direct / unrelated\n"
                     "distances with a verdict per model (unlearning), and the Spearman correlation\n"
                     "of distances with transfer affinities (task relatedness).",
                     out, vm))
    return kExitOk;
  if (file.empty() || roles_path.empty()) throw_usage("eval: give a result file and --roles ROLES.yaml");
  if (!std::filesystem::exists(file)) throw_input("eval: no such file " + file);
  std::stringstream cs(vm["counts"].as<std::string>());
  for (std::string c; std::getline(cs, c, ',');) {
    try {
      counts.push_back(std::stoll(c));
    } catch (const std::exception&) {
      throw_usage("eval: --counts must be integers separated by commas, got '" + c + "'");
    }
  }
  const Roles roles = load_roles(roles_path);
  const RunResult r = read_result(file);
  const auto mit = std::find(r.metrics.begin(), r.metrics.end(), metric);
  if (mit == r.metrics.end()) throw_usage("eval: " + file + " has no metric " + metric);
  const auto& m = r.matrices[static_cast<size_t>(mit - r.metrics.begin())];
  out << std::fixed << std::setprecision(3);
  std::vector<FingerprintRow> rows;  // also drawn below
  if (!roles.source.empty()) {
    rows = fingerprint_auc(file, roles, counts);
    out << "fingerprinting: ROC AUC, positives vs " << roles.negatives.size() << " negatives, by cosine distance to '"
        << roles.source << "'\n  references";
    for (const auto& [kind, models] : roles.positives) out << "  " << std::setw(12) << kind;
    out << "\n";
    auto table = [&](const std::vector<FingerprintRow>& rows) {
      for (const auto& row : rows) {
        out << "  " << std::setw(10) << row.references;
        for (const auto& [kind, auc] : row.auc) out << "  " << std::setw(12) << auc;
        out << "\n";
      }
    };
    table(rows);
    if (vm["selection"].as<bool>()) {
      const auto sel = fingerprint_selection(file, roles, counts);
      out << "fingerprinting with reference selection: " << sel.selection_models.size()
          << " models choose the references, the other " << sel.evaluation_models.size() << " are evaluated\n"
          << "  random references (evaluation half):\n";
      table(sel.random);
      out << "  selected references (evaluation half):\n";
      table(sel.selected);
    }
  }
  if (!roles.reference.empty()) {
    const auto rep = unlearning(r.names, m, roles);
    out << "unlearning: " << metric << " distance to '" << roles.reference << "' (mean [min, max] over models)\n";
    for (const auto& [label, sp] : {std::pair<std::string, Spread>{"approximate", rep.approximate},
                                    {"direct", rep.direct}, {"unrelated", rep.unrelated}})
      out << "  " << std::left << std::setw(12) << label << std::right << sp.mean << " [" << sp.min << ", " << sp.max
          << "]  (" << sp.n << " models)\n";
    for (const auto& [model, verdict] : rep.verdict)
      out << "  " << model << ": " << rep.distance.at(model) << ", " << verdict << "\n";
  }
  // Pictures: heatmap and similarity tree of the matrix, AUC against references.
  std::string stem = vm["pictures"].as<std::string>();
  stem = stem.empty() ? file.substr(0, file.size() - (file.size() > 3 && file.substr(file.size() - 3) == ".h5" ? 3 : 0))
                      : (std::filesystem::create_directories(stem), stem + "/" + std::filesystem::path(file).stem().string());
  const std::string heat = stem + "-heatmap-" + metric + ".svg", tree = stem + "-tree-" + metric + ".svg";
  write_text_atomic(heat, heatmap_svg(r.names, m, metric + " distance: " + file));
  write_text_atomic(tree, dendrogram_svg(r.names, average_linkage(m, r.names.size()),
                                       "similarity tree (average linkage, " + metric + ")"));
  out << "pictures: " << heat << ", " << tree;
  if (!roles.source.empty()) {
    std::map<std::string, std::vector<std::pair<double, double>>> series;
    for (const auto& row : rows)
      for (const auto& [kind, auc] : row.auc) series[kind].emplace_back(static_cast<double>(row.references), auc);
    const std::string auc = stem + "-auc.svg";
    write_text_atomic(auc, line_chart_svg(series, "fingerprinting: ROC AUC against references", "references",
                                        "ROC AUC", true, 0.0, 1.0));
    out << ", " << auc;
  }
  out << "\n";
  if (!roles.tasks.empty()) {
    const auto rep = relatedness(r.names, m, roles);
    out << "task relatedness: Spearman of " << metric << " distance vs transfer affinity, per task\n";
    for (const auto& t : roles.tasks)
      out << "  " << std::left << std::setw(14) << t << std::right << std::setw(7) << rep.per_task.at(t)
          << "  (without the diagonal " << rep.per_task_no_diagonal.at(t) << ")\n";
    out << "  mean " << rep.mean << " with the diagonal (as the published score), " << rep.mean_no_diagonal
        << " without\n";
  }
  return kExitOk;
}

int cmd_zoo(const std::vector<std::string>& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif zoo'");
  std::string config;
  int threads = 0;
  desc.add_options()("help,h", "this help")("config", po::value(&config), "testbed zoo config (YAML)")(
      "threads", po::value(&threads)->default_value(0), "threads per rank (0 = the cores divided by the ranks)");
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, &pos,
                     "usage: [mpirun -np P] modelgif zoo CONFIG.yaml [--threads N]\n\n"
                     "Trains a testbed zoo on Fashion-MNIST (cached: only missing models are trained;\n"
                     "one model per MPI rank) and writes DIR/run.yaml and DIR/roles.yaml for\n"
                     "`modelgif run` and `modelgif eval`.",
                     out, vm))
    return kExitOk;
  if (config.empty()) throw_usage("zoo: give a testbed config (modelgif zoo configs/testbed-fingerprint.yaml)");
  if (threads < 0) throw_usage("zoo: --threads must be >= 0 (0 = the cores divided by the ranks on the node)");
  set_threads(threads, comm::Comm::world().split_shared().size());  // starts MPI when launched under it
  return run_zoo(load_testbed(config), out);
}

int cmd_status(const std::vector<std::string>& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif status'");
  desc.add_options()("help,h", "this help")("run", po::value<std::vector<std::string>>(),
                                            "result file, checkpoint folder, or a folder of runs");
  po::positional_options_description pos;
  pos.add("run", -1);
  po::variables_map vm;
  if (!parse_command(args, desc, &pos,
                     "usage: modelgif status RUN [RUN ...]\n\n"
                     "Reads a run's checkpoint (RUN: the output file, its .ckpt folder, or a folder\n"
                     "holding runs) without MPI and prints progress per model, the fingerprint and\n"
                     "what remains.",
                     out, vm))
    return kExitOk;
  if (!vm.count("run")) throw_usage("status: give a run (modelgif status OUTPUT.h5)");
  for (const auto& r : vm["run"].as<std::vector<std::string>>()) print_status(r, out);
  return kExitOk;
}

int cmd_demo(const std::vector<std::string>& args, std::ostream& out) {
  po::options_description desc("options of 'modelgif demo'");
  desc.add_options()("help,h", "this help")("dir", po::value<std::string>()->default_value("runs/demo"),
                                            "working folder: the cached zoo and the result")(
      "data", po::value<std::string>()->default_value("/usr/share/datasets/fashion-mnist"),
      "Fashion-MNIST IDX folder")("threads", po::value<int>()->default_value(0), "threads (0 = all cores)");
  po::variables_map vm;
  if (!parse_command(args, desc, nullptr,
                     "usage: modelgif demo [--dir DIR] [--data FOLDER] [--threads N]\n\n"
                     "Trains the built-in Fashion-MNIST zoo once (cached in DIR/zoo), computes its\n"
                     "ModelGiF distances on Fashion-MNIST test images and checks that every model\n"
                     "derived from the source is closer to it than every independent model.",
                     out, vm))
    return kExitOk;
  return run_demo(vm["dir"].as<std::string>(), vm["data"].as<std::string>(), vm["threads"].as<int>(), out);
}

}  // namespace

int report_failure(const std::exception_ptr& error, const std::string& program, std::ostream& err) {
  const ErrorReport r = report_of(error);
  if (r.shared) {  // every rank has it: rank 0 reports
    if (comm::world_rank() == 0) err << program << ": error: " << r.message << "\n";
    return r.exit_code;
  }
  if (comm::world_size() > 1) {
    // Raised on one rank only: report it with the rank and stop the whole job
    // (other ranks may be waiting in a collective call).
    err << program << ": error (rank " << comm::world_rank() << "): " << r.message << "\n" << std::flush;
    comm::abort_world(r.exit_code);
  }
  err << program << ": error: " << r.message << "\n";
  return r.exit_code;
}

bool parse_command(const std::vector<std::string>& args, const po::options_description& desc,
                   const po::positional_options_description* positional, const std::string& usage, std::ostream& out,
                   po::variables_map& vm) {
  po::command_line_parser parser(args);
  parser.options(desc).style(kStyle);
  if (positional) parser.positional(*positional);
  po::store(parser.run(), vm);
  if (vm.count("help")) {
    out << usage << "\n\n" << desc;
    return false;
  }
  po::notify(vm);
  return true;
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  try {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      out << kUsage;
      return args.empty() ? kExitUsage : kExitOk;
    }
    if (args[0] == "--version") {
      out << "modelgif " << kVersion << "\n";
      return kExitOk;
    }
    const std::map<std::string, std::function<int(const std::vector<std::string>&, std::ostream&)>> commands = {
        {"run", cmd_run},       {"show", cmd_show},   {"status", cmd_status}, {"compare", cmd_compare}, {"eval", cmd_eval}, {"zoo", cmd_zoo},
        {"submit", cmd_submit}, {"sweep", cmd_sweep}, {"demo", cmd_demo}};
    const auto it = commands.find(args[0]);
    if (it == commands.end()) throw_usage("unknown command '" + args[0] + "' (try 'modelgif --help')");
    return it->second(std::vector<std::string>(args.begin() + 1, args.end()), out);
  } catch (const po::unknown_option& e) {
    std::string name = e.get_option_name();
    while (!name.empty() && name[0] == '-') name.erase(0, 1);
    err << "modelgif: error: unknown option '--" << name << "' (did you mean '--" << nearest_key(name) << "'?)\n";
    return kExitUsage;
  } catch (const po::error& e) {
    err << "modelgif: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (...) {
    return report_failure(std::current_exception(), "modelgif", err);
  }
}

}  // namespace modelgif::cli
