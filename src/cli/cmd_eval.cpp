// `modelgif eval`: the paper's tables for a result and the zoo's roles.
#include <algorithm>
#include <optional>
#include <sstream>

#include "analysis/calibration.hpp"
#include "analysis/eval.hpp"
#include "analysis/report.hpp"
#include "base/files.hpp"
#include "cli/commands.hpp"
#include "modelgif/error.hpp"
#include "modelgif/result.hpp"

namespace po = boost::program_options;

namespace modelgif::cli {
namespace {

struct EvalOptions {
  std::string file, roles, metric, pictures, format;
  double alpha = 0.01;
  std::vector<int64_t> counts;
  bool counts_given = false;  // --counts on the command line
  bool selection = false, calibrate = false;
  PictureArgs picture;
};

// Returns false after printing the help.
bool parse_eval(const Args& args, std::ostream& out, EvalOptions& o) {
  po::options_description desc("options of 'modelgif eval'");
  std::string counts;
  desc.add_options()("help,h", "this help")("file", po::value(&o.file), "result file (HDF5)")(
      "roles", po::value(&o.roles), "the zoo's roles (YAML: fingerprinting, unlearning, relatedness)")(
      "counts", po::value(&counts)->default_value("8,16,32,64,128,256"),
      "fingerprinting: reference counts for the AUC table below all references (needs per-reference "
      "distances: the result's stored fields, or its run's checkpoint)")(
      "metric", po::value(&o.metric)->default_value("cosine"), "the metric to judge by")(
      "alpha", po::value(&o.alpha)->default_value(0.01, "0.01"),
      "suspects and candidates: the level of the verdicts (family-wise, Holm over them)")(
      "format", po::value(&o.format)->default_value("table"),
      "table, or the suspects' and candidates' verdicts alone as csv or json rows "
      "(suspect, metric, distance, p_empirical, p_value, derived); with --calibrate, its rows")(
      "calibrate", po::bool_switch(&o.calibrate),
      "instead of the tables: how the suspects' test does on the roles' own models, per metric (each "
      "negative left out and tested against the others: false positives at 0.05 and 0.01; every positive "
      "tested against the negatives: true positives per kind at 0.01, alone and with Holm over the kind)")(
      "selection", po::bool_switch(&o.selection),
      "fingerprinting: also report AUC on references chosen by the selection rule "
      "(half of each kind and of the negatives choose, the other half is evaluated)")(
      "pictures", po::value(&o.pictures)->default_value(""),
      "folder for the SVG pictures (default: beside the result, RESULT-<picture>.svg)");
  add_picture_options(desc, o.picture);
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, &pos,
                     "usage: modelgif eval RESULT.h5 --roles ROLES.yaml [--counts 8,16,...] [--metric NAME]\n"
                     "                     [--alpha A] [--format table|csv|json] [--calibrate]\n\n"
                     "Reports what the paper reports: ROC AUC per attack kind against the number of\n"
                     "references (fingerprinting), reference <-> approximate / direct / unrelated\n"
                     "distances with a verdict per model (unlearning), and the Spearman correlation\n"
                     "of distances with transfer affinities (task relatedness). Suspects\n"
                     "(fingerprinting.suspects) and unlearning candidates (unlearning.candidates) get\n"
                     "a p-value against the negatives (unrelated models) and a verdict at --alpha,\n"
                     "for every metric of the result, and a picture each (RESULT-suspects-METRIC.svg).",
                     out, vm))
    return false;
  if (o.file.empty() || o.roles.empty()) throw_usage("eval: give a result file and --roles ROLES.yaml");
  o.counts_given = !vm["counts"].defaulted();
  if (o.format != "table" && o.format != "csv" && o.format != "json")
    throw_usage("eval: --format must be table, csv or json, got '" + o.format + "'");
  if (!(o.alpha > 0 && o.alpha < 1)) throw_usage("eval: --alpha must be in (0, 1)");
  std::stringstream cs(counts);
  for (std::string c; std::getline(cs, c, ',');) {
    try {
      size_t used = 0;
      o.counts.push_back(std::stoll(c, &used));
      if (used != c.size() || o.counts.back() < 1) throw std::invalid_argument(c);
    } catch (const std::exception&) {
      throw_usage("eval: --counts must be positive integers separated by commas, got '" + c + "'");
    }
  }
  return true;
}

}  // namespace

int cmd_eval(const Args& args, std::ostream& out) {
  EvalOptions o;
  if (!parse_eval(args, out, o)) return kExitOk;
  require_file(o.file, "eval");
  const Roles roles = load_roles(o.roles);
  const RunResult r = read_result(o.file);
  check_roles(roles, r.names, o.roles, o.file);
  if (o.calibrate) {
    out << format_calibration(calibrate(r.names, r.metrics, r.matrices, roles), o.format);
    return kExitOk;
  }
  const auto mit = std::find(r.metrics.begin(), r.metrics.end(), o.metric);
  if (mit == r.metrics.end()) throw_usage("eval: " + o.file + " has no metric " + o.metric);
  const auto& m = r.matrices[static_cast<size_t>(mit - r.metrics.begin())];
  const std::vector<Verdict> tested = verdicts(r.names, r.metrics, r.matrices, roles, o.alpha);
  if (o.format != "table") {
    if (roles.suspects.empty() && roles.candidates.empty())
      throw_usage("eval: --format " + o.format + " prints the verdicts of suspects and candidates; roles " + o.roles +
                  " names none (fingerprinting.suspects, unlearning.candidates)");
    out << format_verdicts(tested, o.alpha, o.format);
    return kExitOk;
  }
  std::vector<FingerprintRow> rows;  // also drawn
  if (!roles.source.empty() && !roles.positives.empty()) {
    // All references: the matrix. Fewer: per-reference distances, from the
    // result's fields or its run's checkpoint.
    const FingerprintRow all = fingerprint_auc_all(r.names, m, r.references, roles);
    std::string why;
    const auto fields = StoredFields::open(o.file, role_models(roles), &why);
    const std::string fix =
        ": the AUC at fewer references needs per-reference distances; set output.store_fields: "
        "true and rerun (the checkpoint keeps them too, until it is removed)";
    if (!fields && (o.counts_given || o.selection)) throw_input("eval: " + why + fix);
    std::optional<PerReference> per_ref;
    if (fields) {
      per_ref = per_reference_distances(*fields, roles, parse_metric(o.metric));
      for (const auto& row : fingerprint_auc(*per_ref, roles, o.counts))
        if (row.references < r.references) rows.push_back(row);
    }
    rows.push_back(all);
    out << format_fingerprinting(roles, o.metric, rows);
    if (fields) {
      if (fields->source() != o.file) out << "  (per-reference distances from " << fields->source() << ")\n";
    } else {
      out << "  (all references only: " << why << ";" << fix.substr(1) << ")\n";
    }
    if (o.selection) out << format_selection(fingerprint_selection(*per_ref, roles, o.counts));
  }
  out << format_verdicts(tested, o.alpha, "table");
  if (!roles.reference.empty() && (!roles.approximate.empty() || !roles.direct.empty()))
    out << format_unlearning(roles, o.metric, unlearning(r.names, m, roles));
  const PictureOptions pictures = picture_options_of(o.picture, o.pictures);
  std::vector<std::string> drawn = write_eval_pictures(o.file, r.names, m, o.metric, !rows.empty(), rows, pictures);
  for (auto& p : write_audit_pictures(o.file, r.names, r.metrics, r.matrices, roles, tested, o.alpha, pictures))
    drawn.push_back(std::move(p));
  print_pictures(out, drawn);
  if (!roles.tasks.empty()) out << format_relatedness(roles, o.metric, relatedness(r.names, m, roles));
  return kExitOk;
}

}  // namespace modelgif::cli
