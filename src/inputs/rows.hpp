// The table loader: a file (or a part of one) read as rows of
// modelgif/keys.hpp. Every row starts at its default; the file's mapping is
// walked into dotted keys (a section is the part of a key before a dot); a key
// no row has is refused with the nearest key; every value is checked against
// its rule and left in canonical text; then each row's setter fills the
// target. What a table does not hold as rows (a zoo list, a matrix, a map of
// kinds) is named as a part and handed back whole, for the caller to read.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "inputs/strict_yaml.hpp"
#include "modelgif/keys.hpp"

namespace modelgif::rows {

// A key's value and where it was set, for messages: "config FILE", "command
// line", ..., or "" (the row's default).
struct Given {
  YAML::Node node;
  std::string source;
};

// Checks `node`, the value of the key named `key` in messages, against `rule`
// and returns it canonical: every scalar in one spelling (`yes` and `true`,
// `1e1` and `10.0` are one setting). Failures read "<where>: key 'K': what".
// With `lists_from_text` a list key given one scalar "a,b" takes its
// comma-separated items (the command line's way of writing a list).
YAML::Node check_value(const KeyRule& rule, YAML::Node node, const std::string& where, const std::string& key,
                       bool lists_from_text);

// The values of a table's keys, each its row's default until it is given.
class Values {
 public:
  // `defaults_from` names where a default comes from in messages ("config",
  // or the file's "<kind> <path>"); `prefix` is the dotted place of the table
  // in its file ("" = the top level, or "variations[2]").
  Values(std::vector<const KeyRule*> rules, std::string defaults_from, std::string prefix = "");

  const KeyRule* find(const std::string& key) const;  // nullptr when no row has `key`
  std::vector<std::string> keys() const;              // in table order

  // Takes the keys of `node`, the mapping at the table's place in `doc`. A key
  // named in `parts` is put into `whole` as given; any other key no row has
  // is refused with the nearest key, part or section.
  void read(const yaml::Document& doc, const YAML::Node& node, const std::vector<std::string>& parts,
            std::map<std::string, YAML::Node>& whole);
  void give(const std::string& key, YAML::Node node, const std::string& source);
  // Every value checked against its row and left canonical (see check_value).
  void check(bool lists_from_text);

  const Given& at(const std::string& key) const { return values_.at(key); }
  Given& at(const std::string& key) { return values_.at(key); }
  const std::map<std::string, Given>& all() const { return values_; }
  // Where `key` was set, for messages: its source, or `defaults_from`.
  std::string source_of(const std::string& key) const;
  std::set<std::string> given() const;  // the keys whose value was given
  KeyValue value(const std::string& key) const;
  // "<where key was set>: key 'K': what" as a UsageError.
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;

 private:
  std::string full(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "." + key; }
  bool is_section(const std::string& key, const std::vector<std::string>& parts) const;
  void walk(const yaml::Document& doc, const YAML::Node& node, const std::string& section,
            const std::vector<std::string>& parts, std::map<std::string, YAML::Node>& whole);
  [[noreturn]] void refuse_unknown(const yaml::Document& doc, const std::string& key,
                                   const std::vector<std::string>& parts) const;
  [[noreturn]] void refuse_non_mapping(const yaml::Document& doc, const YAML::Node& node, const std::string& section,
                                       const std::vector<std::string>& parts) const;

  std::vector<const KeyRule*> rules_;
  std::map<std::string, Given> values_;
  std::string defaults_from_, prefix_;
};

template <class T>
std::vector<const KeyRule*> rules_of(const std::vector<KeyRow<T>>& rows) {
  std::vector<const KeyRule*> out;
  for (const auto& row : rows) out.push_back(&row);
  return out;
}

// Every row with a setter sets its member of `out` from its checked value.
template <class T>
void set_rows(const std::vector<KeyRow<T>>& rows, const Values& values, T& out) {
  for (const auto& row : rows)
    if (row.set) row.set(out, values.value(row.key));
}

// What the loader found besides the rows it set.
struct Loaded {
  std::set<std::string> given;              // the keys the file gave: for checks across keys
  std::map<std::string, YAML::Node> parts;  // the parts named, as given (absent: not given)
  // The part `name` as given; nullptr when the file does not give it.
  const YAML::Node* part(const std::string& name) const {
    const auto it = parts.find(name);
    return it == parts.end() ? nullptr : &it->second;
  }
};

// Reads the mapping `node` of `doc` (at dotted `prefix`) as the table `rows`
// and sets every row on `out`, defaults from the rows; keys in `parts` are
// returned whole. Errors name the file and the key.
template <class T>
Loaded load_rows(const yaml::Document& doc, const YAML::Node& node, const std::vector<KeyRow<T>>& rows, T& out,
                 const std::vector<std::string>& parts = {}, const std::string& prefix = "") {
  Values values(rules_of(rows), doc.where(), prefix);
  Loaded loaded;
  values.read(doc, node, parts, loaded.parts);
  values.check(false);
  set_rows(rows, values, out);
  loaded.given = values.given();
  return loaded;
}

}  // namespace modelgif::rows
