// Pictures of every run (heatmap in tree or zoo order, similarity tree, AUC
// chart, the auditor's strip of negatives and suspects), legible from 3 to 100+ models, PNG through librsvg, and
// `show`'s formats for scripts and papers.
#include <expat.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "analysis/pictures.hpp"
#include "analysis/svg.hpp"
#include "modelgif/error.hpp"
#include "modelgif/result.hpp"
#include "modelgif/stats.hpp"
#include "support/cli.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
using testsupport::Result;
using testsupport::run_cli;
using testsupport::TinyZoo;

namespace {

// What a picture holds: elements by name, the text of <text> elements in
// order, every font-size and every attribute value of one name.
struct Svg {
  std::map<std::string, int> count;
  std::vector<std::string> texts;
  std::vector<double> font_sizes;
  double width = 0;
  std::vector<std::map<std::string, std::string>> elements;  // attributes, in document order
  std::vector<std::string> names;                            // element names, in document order
};

Svg parse(const std::string& text) {
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

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// M models in two clusters, interleaved in zoo order: even ones near each other.
std::vector<double> two_clusters(size_t M) {
  std::vector<double> m(M * M, 0.0);
  for (size_t a = 0; a < M; ++a)
    for (size_t b = 0; b < M; ++b)
      if (a != b) m[a * M + b] = (a % 2 == b % 2 ? 0.1 : 0.9) + 0.001 * static_cast<double>(a + b);
  return m;
}

std::vector<std::string> names_of(size_t M) {
  std::vector<std::string> n;
  for (size_t i = 0; i < M; ++i) n.push_back("model-" + std::to_string(i));
  return n;
}

}  // namespace

TEST(Pictures, TheClusteredHeatmapFollowsTheTreesLeafOrder) {
  const size_t M = 6;
  const auto m = two_clusters(M);
  const auto order = leaf_order(average_linkage(m, M), M);
  const Svg tree = parse(heatmap_svg(names_of(M), m, "t", order));
  const Svg zoo = parse(heatmap_svg(names_of(M), m, "t"));
  // Row labels come first after the title, two per model (row, column).
  for (size_t i = 0; i < M; ++i) {
    EXPECT_EQ(tree.texts[1 + 2 * i], "model-" + std::to_string(order[i])) << i;
    EXPECT_EQ(zoo.texts[1 + 2 * i], "model-" + std::to_string(i)) << i;
  }
  // In tree order the clusters are contiguous: rows 0..2 hold one parity.
  for (size_t i = 1; i < M / 2; ++i) EXPECT_EQ(order[i] % 2, order[0] % 2);
  EXPECT_THAT(tree.texts.back(), HasSubstr("similarity tree's order"));
  EXPECT_THAT(zoo.texts.back(), HasSubstr("zoo order"));
  EXPECT_EQ(tree.count.at("rect"), zoo.count.at("rect"));
}

TEST(Pictures, HeatmapsAndTreesStayLegibleFromThreeToAHundredAndFiftyModels) {
  for (const size_t M : {3, 12, 40, 100, 150}) {
    const auto m = two_clusters(M);
    const auto names = names_of(M);
    const Svg heat = parse(heatmap_svg(names, m, "t", leaf_order(average_linkage(m, M), M)));
    const Svg tree = parse(dendrogram_svg(names, average_linkage(m, M), "t"));
    for (const Svg* s : {&heat, &tree}) {
      for (const double f : s->font_sizes) EXPECT_GE(f, 7.0) << M;
      EXPECT_LE(s->width, 1400.0) << M;  // fits a screen
    }
    EXPECT_EQ(heat.count.at("rect"), static_cast<int>(1 + M * M + 50)) << M;  // background, cells, colour bar
    int labels = 0;
    for (const auto& t : heat.texts) labels += t.rfind("model-", 0) == 0;
    if (M <= 100)
      EXPECT_EQ(labels, static_cast<int>(2 * M)) << M;  // every model named on both axes
    else
      EXPECT_LT(labels, static_cast<int>(2 * M)) << M;  // thinned beyond
    EXPECT_GT(labels, 0);
    EXPECT_EQ(tree.count.at("path"), static_cast<int>(M - 1));
  }
}

TEST(Pictures, EqualAucLinesStayDistinguishable) {
  std::map<std::string, std::vector<std::pair<double, double>>> series;
  for (const char* kind : {"finetune", "prune", "transfer"}) series[kind] = {{8, 1.0}, {16, 1.0}, {32, 1.0}};
  const Svg s = parse(line_chart_svg(series, "t", "references", "ROC AUC", true, 0.0, 1.0));
  // One line per series (plus one legend stroke each), drawn at distinct heights.
  std::vector<std::string> lines;
  std::set<std::string> dashes;
  for (size_t i = 0; i < s.names.size(); ++i)
    if (s.names[i] == "path" && s.elements[i].count("stroke-dasharray") &&
        s.elements[i].at("d").find(" L") != std::string::npos) {
      lines.push_back(s.elements[i].at("d"));
      dashes.insert(s.elements[i].at("stroke-dasharray"));
    }
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0], lines[1]);
  EXPECT_NE(lines[1], lines[2]);
  EXPECT_EQ(dashes.size(), 3u);
  // Each series its own marker shape: circles, squares, triangles.
  EXPECT_EQ(s.count.at("circle"), 3 + 1);  // 3 points and the legend's marker
  EXPECT_EQ(s.count.at("polygon"), 3 + 1);
  EXPECT_GE(s.count.at("rect"), 3 + 1);
  EXPECT_THAT(s.texts.back(), HasSubstr("apart so that equal values stay visible"));
}

TEST(Pictures, PngIsRenderedByLibrsvgAtTwiceTheSize) {
  const std::string dir = testsupport::temp_dir("png");
  const std::string svg = heatmap_svg(names_of(4), two_clusters(4), "t");
  svg_to_png(svg, dir + "/h.png");
  const std::string png = read(dir + "/h.png");
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  const auto be32 = [&](size_t at) {
    return (static_cast<uint32_t>(static_cast<unsigned char>(png[at])) << 24) |
           (static_cast<uint32_t>(static_cast<unsigned char>(png[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<unsigned char>(png[at + 2])) << 8) |
           static_cast<uint32_t>(static_cast<unsigned char>(png[at + 3]));
  };
  EXPECT_EQ(be32(16), static_cast<uint32_t>(std::ceil(2 * parse(svg).width)));  // IHDR width
  EXPECT_THAT(testsupport::message_of<InputError>([&] { svg_to_png("<svg", dir + "/bad.png"); }),
              HasSubstr(dir + "/bad.png: librsvg cannot"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad.png"));
}

// eval's picture per source and metric: a dot per negative, a labelled
// triangle per suspect (its p-value in the label), the level's line; the same
// for unlearning candidates against the unrelated models.
TEST(Pictures, TheAuditPictureMarksEverySuspectAmongTheNegatives) {
  const std::string dir = testsupport::temp_dir("audit-picture");
  const std::vector<std::string> names = {"src", "close", "tied", "n0", "n1", "n2", "n3", "n4"};
  const std::vector<double> m = testsupport::star_matrix({0, 0.05, 0.82, 0.80, 0.82, 0.84, 0.86, 0.88});
  testsupport::write_matrix_result(dir + "/audit.h5", names, {"cosine", "euclidean"}, {m, m});
  std::ofstream(dir + "/roles.yaml") << "fingerprinting: {source: src, suspects: [close, tied], "
                                     << "negatives: [n0, n1, n2, n3, n4]}\n"
                                     << "unlearning: {reference: src, candidates: [close], unrelated: [n0, n1, n2]}\n";
  const Result r = run_cli({"eval", dir + "/audit.h5", "--roles", dir + "/roles.yaml", "--png"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* metric : {"cosine", "euclidean"})
    for (const char* kind : {"suspects", "candidates"}) {
      EXPECT_THAT(r.out, HasSubstr(dir + "/audit-" + kind + "-" + metric + ".svg")) << r.out;
      EXPECT_TRUE(std::filesystem::exists(dir + "/audit-" + kind + "-" + metric + ".png")) << kind << metric;
    }
  const Svg s = parse(read(dir + "/audit-suspects-cosine.svg"));
  EXPECT_EQ(s.count.at("circle"), 5);   // the negatives
  EXPECT_EQ(s.count.at("polygon"), 2);  // the suspects
  // Labels: name and p-value (pinned in test_stats.cpp: 1.095e-5 and 0.2973), Holm-adjusted beside it.
  const auto has_text = [&](const std::string& t) {
    return std::find(s.texts.begin(), s.texts.end(), t) != s.texts.end();
  };
  EXPECT_TRUE(has_text("close: p = 1.10e-05 (Holm 2.19e-05)")) << ::testing::PrintToString(s.texts);
  EXPECT_TRUE(has_text("tied: p = 2.97e-01 (Holm 2.97e-01)")) << ::testing::PrintToString(s.texts);
  EXPECT_TRUE(has_text("p = 0.01 here, before Holm"));
  // Each suspect's triangle and the negatives' dots sit where their distances are:
  // x rises with the distance, and the closest suspect is left of every dot.
  std::vector<double> dots, marks;
  for (size_t i = 0; i < s.names.size(); ++i) {
    if (s.names[i] == "circle") dots.push_back(std::stod(s.elements[i].at("cx")));
    if (s.names[i] == "polygon") {
      const std::string pts = s.elements[i].at("points");
      const auto third = pts.rfind(' ');
      marks.push_back(std::stod(pts.substr(third + 1, pts.find(',', third) - third - 1)));  // the tip
    }
  }
  ASSERT_EQ(marks.size(), 2u);
  for (size_t i = 1; i < dots.size(); ++i) EXPECT_LT(dots[i - 1], dots[i]);  // 0.80 < 0.82 < ... < 0.88
  EXPECT_LT(marks[0], dots.front());
  EXPECT_DOUBLE_EQ(marks[1], dots[1]);  // tied with n1 at 0.82
  // The unlearning picture: 3 unrelated models, 1 candidate.
  const Svg u = parse(read(dir + "/audit-candidates-euclidean.svg"));
  EXPECT_EQ(u.count.at("circle"), 3);
  EXPECT_EQ(u.count.at("polygon"), 1);
  EXPECT_THAT(u.texts[0], HasSubstr("unlearning candidates of 'src' against 3 unrelated models"));
}

TEST_F(TinyZoo, EveryRunLeavesPicturesUnlessToldNot) {
  const Result r = run_cli({"run", "--config", config});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string stem = dir + "/out/result";
  for (const char* metric : {"cosine", "euclidean", "cosine_frechet", "euclidean_frechet", "cosine_standardized"})
    for (const char* kind : {"-heatmap-", "-tree-"}) {
      const std::string path = stem + kind + metric + ".svg";
      EXPECT_THAT(r.out, HasSubstr(path)) << r.out;
      EXPECT_EQ(parse(read(path)).count.at("svg"), 1) << path;
    }
  // output.pictures false: none.
  const Result off =
      run_cli({"run", "--config", config, "--output.pictures", "false", "--output.path", dir + "/quiet/result.h5"});
  ASSERT_EQ(off.code, 0) << off.err;
  EXPECT_THAT(off.out, ::testing::Not(HasSubstr("pictures:")));
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/quiet")) files += e.path().extension() == ".svg";
  EXPECT_EQ(files, 0u);
  // show --pictures DIR --order zoo --png: into the folder, zoo order, PNG too.
  const Result show =
      run_cli({"show", output, "--metric", "cosine", "--pictures", dir + "/pics", "--order", "zoo", "--png"});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr(dir + "/pics/result-heatmap-cosine.png"));
  const Svg heat = parse(read(dir + "/pics/result-heatmap-cosine.svg"));
  EXPECT_EQ(heat.texts[1], "a");
  EXPECT_THAT(heat.texts.back(), HasSubstr("zoo order"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/pics/result-tree-cosine.png"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/pics/result-heatmap-euclidean.svg"));  // --metric cosine only
  // Bad values name the option.
  EXPECT_THAT(run_cli({"show", output, "--pictures", "--order", "size"}).err,
              HasSubstr("--order: expected tree or zoo"));
  EXPECT_THAT(run_cli({"show", output, "--format", "xml"}).err,
              HasSubstr("--format must be table, csv, json or markdown"));
}

TEST_F(TinyZoo, ShowFormatsCarryEveryDigitForScripts) {
  ASSERT_EQ(run_cli({"run", "--config", config}).code, 0);
  const RunResult r = read_result(output);
  // CSV: metric,a,b,distance with %.17g: parsing gives the stored doubles back exactly.
  const Result csv = run_cli({"show", output, "--format", "csv"});
  ASSERT_EQ(csv.code, 0) << csv.err;
  std::istringstream lines(csv.out);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "metric,model_a,model_b,distance");
  size_t rows = 0;
  const size_t M = r.names.size();
  for (; std::getline(lines, line); ++rows) {
    std::vector<std::string> f;
    std::stringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) f.push_back(x);
    ASSERT_EQ(f.size(), 4u) << line;
    const size_t i = static_cast<size_t>(std::find(r.metrics.begin(), r.metrics.end(), f[0]) - r.metrics.begin());
    const size_t a = static_cast<size_t>(std::find(r.names.begin(), r.names.end(), f[1]) - r.names.begin());
    const size_t b = static_cast<size_t>(std::find(r.names.begin(), r.names.end(), f[2]) - r.names.begin());
    ASSERT_LT(i, r.metrics.size());
    ASSERT_LT(a, M);
    ASSERT_LT(b, M);
    EXPECT_EQ(std::stod(f[3]), r.matrices[i][a * M + b]) << line;
  }
  EXPECT_EQ(rows, r.metrics.size() * M * M);
  // JSON: the models and one M x M array per metric.
  const Result json = run_cli({"show", output, "--format", "json", "--metric", "cosine"});
  ASSERT_EQ(json.code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("{\"models\": [\"a\", \"a-perm\", \"b\"], \"metrics\": {\"cosine\": [[0, "));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", r.matrices[0][2]);
  EXPECT_THAT(json.out, HasSubstr(buf));
  // Markdown: a header, a rule and one row per model, per metric.
  const Result md = run_cli({"show", output, "--format", "markdown", "--metric", "euclidean", "--precision", "3"});
  ASSERT_EQ(md.code, 0) << md.err;
  EXPECT_THAT(md.out, HasSubstr("**euclidean distance**\n\n| | a | a-perm | b |\n|---|---:|---:|---:|\n| a | 0.000 |"));
  EXPECT_EQ(std::count(md.out.begin(), md.out.end(), '\n'), 2 + 2 + static_cast<long>(M));
}

TEST_F(TinyZoo, AModelWhoseFieldIsTinyIsWarnedAboutOnStderr) {
  auto tiny = testsupport::linear_model(at::full({1, 8, 8}, 1e-9));
  tiny.save(dir + "/tiny.pt");
  ::testing::internal::CaptureStderr();
  const Result r = run_cli({"run", "--config", config, "--zoo", "a=" + dir + "/a.pt", "--zoo",
                            "tiny=" + dir + "/tiny.pt", "--output.path", dir + "/tiny/result.h5"});
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(err, HasSubstr("warning: model 'tiny': its field rows are tiny (median norm"));
  EXPECT_THAT(err, HasSubstr("PyTorch's cosine_similarity"));
  EXPECT_THAT(err, ::testing::Not(HasSubstr("model 'a'")));
}
