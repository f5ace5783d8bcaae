// Reading what the program wrote, for tests.
#include "support/files.hpp"

#include <expat.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "modelgif/h5.hpp"

namespace testsupport {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string root_attr(const std::string& file, const std::string& name) {
  auto f = modelgif::h5::File::open(file);
  return modelgif::h5::get_attr_string(f.id(), "/", name);
}

Svg parse_svg(const std::string& text) {
  struct State {
    Svg svg;
    bool in_text = false;
  } st;
  XML_Parser p = XML_ParserCreate("UTF-8");
  XML_SetUserData(p, &st);
  XML_SetElementHandler(
      p,
      [](void* data, const XML_Char* name, const XML_Char** attrs) {
        auto& s = *static_cast<State*>(data);
        ++s.svg.count[name];
        std::map<std::string, std::string> a;
        for (int i = 0; attrs[i]; i += 2) a[attrs[i]] = attrs[i + 1];
        if (a.count("font-size")) s.svg.font_sizes.push_back(std::stod(a["font-size"]));
        if (std::string(name) == "svg") s.svg.width = std::stod(a["width"]);
        s.in_text = std::string(name) == "text";
        if (s.in_text) s.svg.texts.emplace_back();
        s.svg.elements.push_back(a);
        s.svg.names.emplace_back(name);
      },
      [](void* data, const XML_Char*) { static_cast<State*>(data)->in_text = false; });
  XML_SetCharacterDataHandler(p, [](void* data, const XML_Char* s, int n) {
    auto& st = *static_cast<State*>(data);
    if (st.in_text) st.svg.texts.back().append(s, static_cast<size_t>(n));
  });
  const bool ok = XML_Parse(p, text.data(), static_cast<int>(text.size()), 1) == XML_STATUS_OK;
  EXPECT_TRUE(ok) << XML_ErrorString(XML_GetErrorCode(p)) << " at line " << XML_GetCurrentLineNumber(p);
  XML_ParserFree(p);
  return st.svg;
}

Svg parse_svg_file(const std::string& path) { return parse_svg(read_text(path)); }

}  // namespace testsupport
