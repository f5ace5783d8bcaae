#include "inputs/rows.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include "modelgif/error.hpp"

namespace modelgif {
namespace {

using Kind = KeyRule::Kind;

std::string number_text(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  std::ostringstream s;
  s << v;
  return s.str();
}

// The canonical text of a number: how it is stored in the resolved config and
// fingerprinted, so that `1e1`, `10` and `10.0` are one setting (integral
// doubles keep a ".0").
std::string canonical_double(double v) {
  char buf[64];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  std::string s(buf, end);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string key_text(const YAML::Node& k) { return k.IsScalar() ? k.Scalar() : yaml::flow_text(k); }

// One value checked against one rule; failures name where it was set and the key.
class Check {
 public:
  Check(const KeyRule& rule, std::string where, std::string key)
      : rule_(rule), where_(std::move(where)), key_(std::move(key)) {}

  YAML::Node operator()(YAML::Node n, bool lists_from_text) const {
    if (rule_.is_list() && lists_from_text && n.IsScalar()) n = split(n.Scalar());
    if (rule_.is_list() && n.IsNull()) n = YAML::Node(YAML::NodeType::Sequence);
    return rule_.is_list() ? list(n) : single(n);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw_usage(where_ + ": key '" + key_ + "': " + what); }
  // `got`: what was there ("'abc'", "a mapping", "a list holding a list").
  [[noreturn]] void bad_type(const std::string& got) const {
    fail("expected " + kind_name(rule_.kind) + ", got " + got);
  }

  // "a,b,c" (on the command line): a list of its items.
  YAML::Node split(const std::string& text) const {
    YAML::Node seq(YAML::NodeType::Sequence);
    std::stringstream ss(text);
    for (std::string item; std::getline(ss, item, ',');) try {
        if (!item.empty()) seq.push_back(YAML::Load(item));
      } catch (const YAML::Exception&) {
        fail("cannot read '" + item + "' as a list item");
      }
    return seq;
  }

  void check_number(double v, const std::string& text) const {
    if (rule_.min_open ? !(v > rule_.min) : !(v >= rule_.min))
      fail("must be " + std::string(rule_.min_open ? "> " : ">= ") + number_text(rule_.min) + ", got " + text);
    if (!(v <= rule_.max)) fail("at most " + number_text(rule_.max) + ", got " + text);
  }

  void check_text(const std::string& v) const {
    const auto& choices = rule_.choices;
    if (!choices.empty() && std::find(choices.begin(), choices.end(), v) == choices.end()) {
      std::string list;
      for (size_t i = 0; i < choices.size(); ++i)
        list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
      fail("expected " + list + ", got '" + v + "'");
    }
    if (rule_.parse) try {
        rule_.parse(v);
      } catch (const UsageError& e) {
        fail(e.what());
      }
  }

  // Checks a scalar `e` (called `got` when it is not what the rule takes); returns its canonical text.
  std::string scalar(const YAML::Node& e, const std::string& got) const {
    if (!e.IsScalar()) bad_type(got);
    try {
      switch (rule_.kind) {
        case Kind::Int:
        case Kind::IntList: {
          const long long v = e.as<long long>();
          const std::string text = std::to_string(v);
          check_number(static_cast<double>(v), text);
          check_text(text);
          return text;
        }
        case Kind::Double:
        case Kind::DoubleList: {
          const double v = e.as<double>();
          if (!std::isfinite(v)) fail("must be a finite number, got " + e.Scalar());
          check_number(v, e.Scalar());
          return canonical_double(v);
        }
        case Kind::Bool:
          return e.as<bool>() ? "true" : "false";
        case Kind::String:
        case Kind::StringList:
          check_text(e.Scalar());
          return e.Scalar();
      }
    } catch (const YAML::Exception&) {
      bad_type(got);
    }
    return {};
  }

  YAML::Node single(const YAML::Node& n) const {
    if (rule_.kind == Kind::String && n.IsNull()) {  // "key:" with no value: kept as given, read as ""
      if (rule_.required) fail("is required: " + rule_.help);
      return n;
    }
    const std::string text = scalar(n, yaml::describe(n));
    if (rule_.required && text.empty()) fail("is required: " + rule_.help);
    return YAML::Node(text);
  }

  YAML::Node list(const YAML::Node& n) const {
    if (!n.IsSequence()) bad_type(yaml::describe(n));
    const auto& lengths = rule_.lengths;
    if (!lengths.empty() && std::find(lengths.begin(), lengths.end(), n.size()) == lengths.end()) {
      std::string list;
      for (size_t i = 0; i < lengths.size(); ++i) list += (i ? " or " : "") + std::to_string(lengths[i]);
      fail("expected " + list + " values, got " + std::to_string(n.size()));
    }
    std::set<std::string> seen;
    YAML::Node out(YAML::NodeType::Sequence);
    for (const auto& e : n) {
      const std::string text = scalar(e, "a list holding " + yaml::describe(e));
      if (rule_.unique && !seen.insert(text).second) fail("'" + text + "' listed twice");
      out.push_back(text);
    }
    if (rule_.required && n.size() == 0) fail("list at least one value");
    out.SetStyle(n.Style());
    return out;
  }

  const KeyRule& rule_;
  std::string where_, key_;
};

}  // namespace

std::vector<int64_t> KeyValue::integers() const {
  std::vector<int64_t> out;
  for (const auto& i : items) out.push_back(std::stoll(i));
  return out;
}

std::vector<double> KeyValue::numbers() const {
  std::vector<double> out;
  for (const auto& i : items) out.push_back(std::stod(i));
  return out;
}

std::string kind_name(KeyRule::Kind k) {
  switch (k) {
    case Kind::Int:
      return "an integer";
    case Kind::Double:
      return "a number";
    case Kind::Bool:
      return "true or false";
    case Kind::String:
      return "a string";
    case Kind::IntList:
      return "a list of integers";
    case Kind::DoubleList:
      return "a list of numbers";
    case Kind::StringList:
      return "a list of strings";
  }
  return "?";
}

std::string rule_values(const KeyRule& k) {
  std::string values = kind_name(k.kind);
  if (!k.choices.empty()) {
    values = "";
    for (size_t i = 0; i < k.choices.size(); ++i) values += (i ? ", `" : "`") + k.choices[i] + "`";
  }
  if (k.min > -std::numeric_limits<double>::infinity())
    values += std::string(k.min_open ? ", > " : ", >= ") + number_text(k.min);
  if (k.max < std::numeric_limits<double>::infinity()) values += ", <= " + number_text(k.max);
  if (!k.lengths.empty()) {
    values += ", length";
    for (size_t i = 0; i < k.lengths.size(); ++i) values += (i ? " or " : " ") + std::to_string(k.lengths[i]);
  }
  if (k.unique) values += ", each once";
  if (k.required) values += ", required";
  return values;
}

namespace rows {

YAML::Node check_value(const KeyRule& rule, YAML::Node node, const std::string& where, const std::string& key,
                       bool lists_from_text) {
  return Check(rule, where, key)(std::move(node), lists_from_text);
}

Values::Values(std::vector<const KeyRule*> rules, std::string defaults_from, std::string prefix)
    : rules_(std::move(rules)), defaults_from_(std::move(defaults_from)), prefix_(std::move(prefix)) {
  for (const KeyRule* r : rules_) values_[r->key] = {YAML::Load(r->default_yaml.empty() ? "''" : r->default_yaml), ""};
}

const KeyRule* Values::find(const std::string& key) const {
  for (const KeyRule* r : rules_)
    if (r->key == key) return r;
  return nullptr;
}

std::vector<std::string> Values::keys() const {
  std::vector<std::string> out;
  for (const KeyRule* r : rules_) out.push_back(r->key);
  return out;
}

void Values::read(const yaml::Document& doc, const YAML::Node& node, const std::vector<std::string>& parts,
                  std::map<std::string, YAML::Node>& whole) {
  walk(doc, node, "", parts, whole);
}

void Values::give(const std::string& key, YAML::Node node, const std::string& source) {
  values_.at(key) = {std::move(node), source};
}

void Values::check(bool lists_from_text) {
  for (auto& [key, v] : values_) v.node = check_value(*find(key), v.node, source_of(key), full(key), lists_from_text);
}

std::string Values::source_of(const std::string& key) const {
  const std::string& source = values_.at(key).source;
  return source.empty() ? defaults_from_ : source;
}

std::set<std::string> Values::given() const {
  std::set<std::string> out;
  for (const auto& [key, v] : values_)
    if (!v.source.empty()) out.insert(key);
  return out;
}

KeyValue Values::value(const std::string& key) const {
  const YAML::Node& n = values_.at(key).node;
  KeyValue v;
  if (n.IsSequence())
    for (const auto& e : n) v.items.push_back(e.Scalar());
  else if (!n.IsNull())
    v.text = n.Scalar();
  return v;
}

void Values::fail(const std::string& key, const std::string& what) const {
  throw_usage(source_of(key) + ": key '" + full(key) + "': " + what);
}

bool Values::is_section(const std::string& key, const std::vector<std::string>& parts) const {
  const auto below = [&](const std::string& k) { return k.compare(0, key.size() + 1, key + ".") == 0; };
  return std::any_of(rules_.begin(), rules_.end(), [&](const KeyRule* r) { return below(r->key); }) ||
         std::any_of(parts.begin(), parts.end(), below);
}

// Walks the mapping `node` at dotted `section` ("" = the table's own place) into dotted keys.
void Values::walk(const yaml::Document& doc, const YAML::Node& node, const std::string& section,
                  const std::vector<std::string>& parts, std::map<std::string, YAML::Node>& whole) {
  if (!node.IsMap()) refuse_non_mapping(doc, node, section, parts);
  for (const auto& kv : node) {
    const std::string k = key_text(kv.first), key = section.empty() ? k : section + "." + k;
    if (std::find(parts.begin(), parts.end(), key) != parts.end())
      whole[key] = kv.second;
    else if (find(key))
      values_[key] = {kv.second, doc.where()};
    else if (is_section(key, parts))
      walk(doc, kv.second, key, parts, whole);
    else
      refuse_unknown(doc, key, parts);
  }
}

// Candidates: every key, every part and every section (a misspelt section is near its name).
void Values::refuse_unknown(const yaml::Document& doc, const std::string& key,
                            const std::vector<std::string>& parts) const {
  std::vector<std::string> names = keys(), candidates;
  names.insert(names.end(), parts.begin(), parts.end());
  for (const auto& n : names) candidates.push_back(full(n));
  for (const auto& n : names)
    for (size_t dot = n.find('.'); dot != std::string::npos; dot = n.find('.', dot + 1)) {
      const std::string section = full(n.substr(0, dot));
      if (std::find(candidates.begin(), candidates.end(), section) == candidates.end()) candidates.push_back(section);
    }
  doc.fail(yaml::unknown_key(full(key), candidates));
}

// "key 'S' must be a mapping (of a, b, c), got ...": the names one level below `section`.
void Values::refuse_non_mapping(const yaml::Document& doc, const YAML::Node& node, const std::string& section,
                                const std::vector<std::string>& parts) const {
  std::vector<std::string> names = keys(), below;
  names.insert(names.end(), parts.begin(), parts.end());
  for (const auto& n : names) {
    if (!section.empty() && n.compare(0, section.size() + 1, section + ".") != 0) continue;
    const std::string rest = section.empty() ? n : n.substr(section.size() + 1);
    const std::string child = rest.substr(0, rest.find('.'));
    if (std::find(below.begin(), below.end(), child) == below.end()) below.push_back(child);
  }
  std::string list;
  for (const auto& b : below) list += (list.empty() ? "" : ", ") + b;
  const std::string at = section.empty() ? prefix_ : full(section);
  doc.fail((at.empty() ? std::string("the top level") : "key '" + at + "'") + " must be a mapping (of " + list +
           "), got " + yaml::describe(node));
}

}  // namespace rows
}  // namespace modelgif
