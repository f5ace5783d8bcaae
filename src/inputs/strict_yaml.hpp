// The one strict YAML loader, for every file a user writes: run configs,
// sweeps, testbed configs and roles. One wording for every failure,
//   "<kind> <file>: <what>"   e.g.  config run.yaml: unknown key 'field.stpes' (did you mean 'field.steps'?)
// and every failure is a UsageError (exit 2):
//   - syntax errors give their line;
//   - a key repeated in any mapping, at any depth, is refused;
//   - keys outside a mapping's allowed set are refused with the nearest allowed key;
//   - values convert with an error naming the key, what was expected and what was found.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace modelgif::yaml {

class Document {
 public:
  // `kind` names the file kind in messages ("config", "sweep", "zoo config", "roles").
  static Document parse(const std::string& text, const std::string& kind, const std::string& origin);
  static Document load(const std::string& path, const std::string& kind);

  const YAML::Node& root() const { return root_; }
  // "<kind> <origin>", the prefix of every message about this file.
  std::string where() const { return kind_ + " " + origin_; }
  [[noreturn]] void fail(const std::string& what) const;

  // `node` (at dotted `key`, "" for the top level) must be a mapping whose keys
  // are among `allowed` (an unknown one is refused with the nearest allowed key).
  void expect_map(const YAML::Node& node, const std::string& key, const std::vector<std::string>& allowed) const;
  // Conversions of what a table does not hold as rows (inputs/rows.hpp: a
  // zoo entry, a map of lists, a matrix), failing with "key 'K': expected
  // <kind>, got <what was there>".
  std::string string(const YAML::Node& node, const std::string& key) const;
  std::vector<std::string> strings(const YAML::Node& node, const std::string& key) const;
  std::vector<double> numbers(const YAML::Node& node, const std::string& key) const;

 private:
  Document(YAML::Node root, std::string kind, std::string origin)
      : root_(std::move(root)), kind_(std::move(kind)), origin_(std::move(origin)) {}
  YAML::Node root_;
  std::string kind_, origin_;
};

// What a node holds, for messages: 'text', a list, a mapping, nothing.
std::string describe(const YAML::Node& node);
// The candidate nearest to `key` by edit distance (also against the part of
// each candidate after its first dot: a key put in the wrong section).
std::string nearest(const std::string& key, const std::vector<std::string>& candidates);
// "unknown key 'K' (did you mean 'N'?)"
std::string unknown_key(const std::string& key, const std::vector<std::string>& candidates);

// YAML text of a node on one line (flow style): how a value is shown and fingerprinted.
std::string flow_text(const YAML::Node& node);

}  // namespace modelgif::yaml
