// `modelgif eval`: answers the paper's three questions from a run's result
// and the zoo's roles (MODELGIF.md §6):
//   fingerprinting: ROC AUC of each positive kind against the negatives, by
//     distance to the source: on all references from the distance matrix, and
//     at several reference counts from the fields (stored, or the checkpoint's);
//   unlearning: reference <-> approximate / direct / unrelated distances;
//   task relatedness: Spearman correlation of each task's distances with its
//     transfer affinities (with and without the diagonal).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "modelgif/distance.hpp"
#include "run/stored_fields.hpp"

namespace modelgif {

struct Roles {
  // fingerprinting
  std::string source;
  std::map<std::string, std::vector<std::string>> positives;  // kind -> models
  std::vector<std::string> negatives;
  std::vector<std::string> suspects;  // each tested against the negatives
  // unlearning
  std::string reference;
  std::vector<std::string> approximate, direct, unrelated;
  std::vector<std::string> candidates;  // each tested against the unrelated models
  // task relatedness: one model per task, affinity[i][j] = how well task i's encoder serves task j
  std::vector<std::string> tasks;
  std::vector<std::vector<double>> affinity;
};

// Strict keys; errors name the key. Refused besides: a model twice in one
// list, a suspect that is the source or a negative, a candidate that is the
// reference or an unrelated model, and suspects (candidates) with fewer than
// 2 negatives (unrelated models) to judge them by.
Roles load_roles(const std::string& path);
// Every model the roles name, once, in the order they are named.
std::vector<std::string> role_models(const Roles& roles);
// InputError naming every model of roles file `roles_path` that result
// `result` (models `names`) does not hold; checked before anything else is read.
void check_roles(const Roles& roles, const std::vector<std::string>& names, const std::string& roles_path,
                 const std::string& result);

// The distances of `models` (in role `role`, for messages) to `from` in
// `matrix`, the M x M matrix of the zoo `names`.
std::vector<double> distances_to(const std::vector<std::string>& names, const std::vector<double>& matrix,
                                 const std::string& from, const std::vector<std::string>& models,
                                 const std::string& role);

struct FingerprintRow {
  int64_t references;
  std::map<std::string, double> auc;  // kind -> AUC
};

// AUC per kind on all the result's `references`, from its distance matrix alone.
FingerprintRow fingerprint_auc_all(const std::vector<std::string>& names, const std::vector<double>& matrix,
                                   int64_t references, const Roles& roles);

// Every positive's and negative's distance to the source, per reference (N,
// float64), from the fields the result was computed from.
using PerReference = std::map<std::string, at::Tensor>;
PerReference per_reference_distances(const StoredFields& fields, const Roles& roles, Metric metric);

// AUC per kind at each count n (first n references); counts above N are skipped.
std::vector<FingerprintRow> fingerprint_auc(const PerReference& per_ref, const Roles& roles,
                                            const std::vector<int64_t>& counts);

// References chosen by a selection rule (the published code's: rank candidate
// references by how much farther the negatives are from the source than the
// positives), with the models split in two: the first half of every kind and of
// the negatives choose the references, the second half is evaluated, on random
// references (the first n) and on the selected ones (the n best ranked).
struct SelectionReport {
  std::vector<FingerprintRow> random, selected;  // AUC of the evaluation half
  std::vector<std::string> selection_models, evaluation_models;
};
SelectionReport fingerprint_selection(const PerReference& per_ref, const Roles& roles,
                                      const std::vector<int64_t>& counts);

// The demo's check, for any fingerprinting zoo: is every positive (of every
// kind) nearer the source than every negative?
struct Separation {
  double farthest_positive = 0, nearest_negative = 0;
  bool ok = false;  // farthest_positive < nearest_negative
};
Separation positives_nearer_than_negatives(const std::vector<std::string>& names, const std::vector<double>& matrix,
                                           const Roles& roles);

struct Spread {
  double mean = 0, min = 0, max = 0;
  int n = 0;
};
struct UnlearningReport {
  Spread approximate, direct, unrelated;
  std::map<std::string, double> distance;  // every unlearned model's distance to the reference
  std::map<std::string, std::string> verdict;
};
UnlearningReport unlearning(const std::vector<std::string>& names, const std::vector<double>& matrix,
                            const Roles& roles);

// The auditor's test: is a suspect (or an unlearning candidate) closer to the
// source (reference) than the independent negatives (unrelated models) are?
// Per metric: the empirical and the predictive p-value (modelgif/stats.hpp)
// against the null models' distances to the same source, Holm-adjusted over
// the suspects (candidates) of that metric; `derived` when the adjusted
// predictive p-value is <= alpha (for a candidate: "not forgotten").
struct Verdict {
  std::string test;           // "fingerprinting" or "unlearning"
  std::string model, source;  // suspect / candidate, and the model it is tested against
  std::string metric;
  int nulls = 0;  // negatives (unrelated models) judged against
  double distance = 0, p_empirical = 0, p_value = 0, p_adjusted = 0;
  bool derived = false;
};
std::vector<Verdict> verdicts(const std::vector<std::string>& names, const std::vector<std::string>& metrics,
                              const std::vector<std::vector<double>>& matrices, const Roles& roles, double alpha);

struct RelatednessReport {
  std::map<std::string, double> per_task, per_task_no_diagonal;
  double mean = 0, mean_no_diagonal = 0;
};
RelatednessReport relatedness(const std::vector<std::string>& names, const std::vector<double>& matrix,
                              const Roles& roles);

}  // namespace modelgif
