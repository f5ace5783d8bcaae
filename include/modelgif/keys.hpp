// Tables of keys: every file a user writes (run configs, sweeps, testbed
// configs, roles) is read as rows. A row's rule says what a key takes (kind,
// default, bounds, choices, list lengths); its setter puts the checked value
// into the struct the file fills. One loader (inputs/rows.hpp) reads every
// table the same way: defaults from the rows, unknown keys refused with the
// nearest one, every value checked against its rule and errors naming the key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace modelgif {

// A key's checked value in canonical text: one scalar, or a list's items.
struct KeyValue {
  std::string text;
  std::vector<std::string> items;
  int64_t integer() const { return std::stoll(text); }
  double number() const { return std::stod(text); }
  bool boolean() const { return text == "true"; }
  std::vector<int64_t> integers() const;
  std::vector<double> numbers() const;
};

// What a key takes, whatever it sets. Checks of a value (of every element of
// a list): numeric bounds, allowed choices, allowed list lengths, or a parse
// function that refuses what it cannot read.
struct KeyRule {
  enum class Kind { Int, Double, Bool, String, IntList, DoubleList, StringList };
  std::string key;  // dotted: "field.steps"
  Kind kind;
  std::string default_yaml;  // YAML text of the default ("" = empty)
  std::string help;
  double min = -std::numeric_limits<double>::infinity(),
         max = std::numeric_limits<double>::infinity();  // numbers: min <= v <= max (min < v when min_open)
  bool min_open = false;
  std::vector<std::string> choices;             // strings and integers: the allowed values
  std::vector<size_t> lengths;                  // lists: the allowed lengths (empty: any)
  bool required = false;                        // strings: may not be empty; lists: at least one value
  bool unique = false;                          // lists: no value twice
  void (*parse)(const std::string&) = nullptr;  // strings: throws UsageError when the value is unusable

  KeyRule(std::string k, Kind kd, std::string dflt, std::string h)
      : key(std::move(k)), kind(kd), default_yaml(std::move(dflt)), help(std::move(h)) {}
  bool is_list() const { return kind == Kind::IntList || kind == Kind::DoubleList || kind == Kind::StringList; }
};

// A row of the table of `T`: a rule and the member of T it sets from its
// checked value. The builders name the checks: K("field.steps", ...).at_least(1).sets(...).
template <class T>
struct KeyRow : KeyRule {
  std::function<void(T&, const KeyValue&)> set;  // none: the key is read by the loader's caller

  KeyRow(std::string k, Kind kd, std::string dflt, std::string h)
      : KeyRule(std::move(k), kd, std::move(dflt), std::move(h)) {}
  KeyRow& at_least(double v) { return min = v, *this; }
  KeyRow& above(double v) { return min = v, min_open = true, *this; }
  KeyRow& at_most(double v) { return max = v, *this; }
  KeyRow& one_of(std::vector<std::string> c) { return choices = std::move(c), *this; }
  KeyRow& lengths_in(std::vector<size_t> l) { return lengths = std::move(l), *this; }
  KeyRow& non_empty() { return required = true, *this; }
  KeyRow& distinct() { return unique = true, *this; }
  KeyRow& parsed_by(void (*fn)(const std::string&)) { return parse = fn, *this; }
  KeyRow& sets(std::function<void(T&, const KeyValue&)> fn) { return set = std::move(fn), *this; }
};

// "a list of integers", ...: what a kind of key takes, for messages and the reference.
std::string kind_name(KeyRule::Kind kind);
// The values a rule takes, in words: its kind or choices, then its bounds,
// lengths, "each once" and "required" (the reference's last column).
std::string rule_values(const KeyRule& rule);

}  // namespace modelgif
