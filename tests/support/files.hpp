// Reading what the program wrote, for tests: files, pictures and attributes.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace testsupport {

// A file's bytes ("" when it cannot be read).
std::string read_text(const std::string& path);
// A string attribute on the root of an HDF5 file.
std::string root_attr(const std::string& file, const std::string& name);

// What an SVG picture holds: elements by name, the text of <text> elements in
// order, every font-size, the width, and each element's attributes.
struct Svg {
  std::map<std::string, int> count;
  std::vector<std::string> texts;
  std::vector<double> font_sizes;
  double width = 0;
  std::vector<std::map<std::string, std::string>> elements;  // attributes, in document order
  std::vector<std::string> names;                            // element names, in document order
};
// Parses SVG text with expat; a malformed picture fails the calling test.
Svg parse_svg(const std::string& text);
Svg parse_svg_file(const std::string& path);

}  // namespace testsupport
