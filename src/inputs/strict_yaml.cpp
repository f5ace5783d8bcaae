#include "inputs/strict_yaml.hpp"

#include <algorithm>
#include <set>

#include "base/files.hpp"
#include "modelgif/error.hpp"

namespace modelgif::yaml {
namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string key_text(const YAML::Node& k) { return k.IsScalar() ? k.Scalar() : flow_text(k); }

// Refuses a key repeated in any mapping of the tree (yaml-cpp keeps both).
void refuse_duplicates(const Document& doc, const YAML::Node& node, const std::string& prefix) {
  if (node.IsMap()) {
    std::set<std::string> seen;
    for (const auto& kv : node) {
      const std::string k = key_text(kv.first), full = prefix.empty() ? k : prefix + "." + k;
      if (!seen.insert(k).second) doc.fail("duplicate key '" + full + "'");
      refuse_duplicates(doc, kv.second, full);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) refuse_duplicates(doc, node[i], prefix);
  }
}

}  // namespace

Document Document::parse(const std::string& text, const std::string& kind, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw_usage(kind + " " + origin + ": YAML syntax error at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  Document doc(root, kind, origin);
  refuse_duplicates(doc, root, "");
  return doc;
}

Document Document::load(const std::string& path, const std::string& kind) {
  return parse(read_text_file(path, kind), kind, path);
}

void Document::fail(const std::string& what) const { throw_usage(where() + ": " + what); }

void Document::expect_map(const YAML::Node& node, const std::string& key,
                          const std::vector<std::string>& allowed) const {
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  if (!node.IsMap())
    fail((key.empty() ? std::string("the top level") : "key '" + key + "'") + " must be a mapping (of " + list +
         "), got " + describe(node));
  std::vector<std::string> full;
  for (const auto& a : allowed) full.push_back(key.empty() ? a : key + "." + a);
  for (const auto& kv : node) {
    const std::string k = key_text(kv.first);
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
      fail(unknown_key(key.empty() ? k : key + "." + k, full));
  }
}

std::string Document::string(const YAML::Node& node, const std::string& key) const {
  if (!node.IsDefined() || node.IsNull()) return "";
  if (!node.IsScalar()) fail("key '" + key + "': expected a string, got " + describe(node));
  return node.Scalar();
}

std::vector<std::string> Document::strings(const YAML::Node& node, const std::string& key) const {
  std::vector<std::string> out;
  if (!node.IsDefined() || node.IsNull()) return out;
  if (!node.IsSequence()) fail("key '" + key + "': expected a list of strings, got " + describe(node));
  for (const auto& e : node) {
    if (!e.IsScalar()) fail("key '" + key + "': expected a list of strings, got a list holding " + describe(e));
    out.push_back(e.Scalar());
  }
  return out;
}

std::vector<double> Document::numbers(const YAML::Node& node, const std::string& key) const {
  std::vector<double> out;
  if (!node.IsDefined() || node.IsNull()) return out;
  if (!node.IsSequence()) fail("key '" + key + "': expected a list of numbers, got " + describe(node));
  for (const auto& e : node) {
    try {
      if (e.IsScalar()) {
        out.push_back(e.as<double>());
        continue;
      }
    } catch (const YAML::Exception&) {
    }
    fail("key '" + key + "': expected a list of numbers, got a list holding " + describe(e));
  }
  return out;
}

std::string describe(const YAML::Node& n) {
  if (!n.IsDefined()) return "nothing";
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  return "nothing";
}

std::string nearest(const std::string& key, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    const auto dot = c.find('.');
    const size_t tail = dot == std::string::npos ? SIZE_MAX : edit_distance(key, c.substr(dot + 1)) + 1;
    const size_t d = std::min(edit_distance(key, c), tail);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

std::string unknown_key(const std::string& key, const std::vector<std::string>& candidates) {
  if (candidates.empty()) return "unknown key '" + key + "'";
  return "unknown key '" + key + "' (did you mean '" + nearest(key, candidates) + "'?)";
}

std::string flow_text(const YAML::Node& node) {
  YAML::Emitter e;
  e << YAML::Flow << node;
  return e.c_str();
}

}  // namespace modelgif::yaml
