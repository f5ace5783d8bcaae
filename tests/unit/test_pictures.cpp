// Pictures of every run (heatmap in tree or zoo order, similarity tree, AUC
// chart, the auditor's strip of negatives and suspects), legible from 3 to 100+ models, PNG through librsvg, and
// `show`'s formats for scripts and papers.
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
#include "support/files.hpp"
#include "support/models.hpp"

using namespace modelgif;
using ::testing::HasSubstr;
using testsupport::parse_svg;
using testsupport::read_text;
using testsupport::Result;
using testsupport::run_cli;
using testsupport::Svg;
using testsupport::TinyZoo;

namespace {

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
  const Svg tree = parse_svg(heatmap_svg(names_of(M), m, "t", order));
  const Svg zoo = parse_svg(heatmap_svg(names_of(M), m, "t"));
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
    const Svg heat = parse_svg(heatmap_svg(names, m, "t", leaf_order(average_linkage(m, M), M)));
    const Svg tree = parse_svg(dendrogram_svg(names, average_linkage(m, M), "t"));
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
  const Svg s = parse_svg(line_chart_svg(series, "t", "references", "ROC AUC", true, 0.0, 1.0));
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
  const std::string png = read_text(dir + "/h.png");
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  const auto be32 = [&](size_t at) {
    return (static_cast<uint32_t>(static_cast<unsigned char>(png[at])) << 24) |
           (static_cast<uint32_t>(static_cast<unsigned char>(png[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<unsigned char>(png[at + 2])) << 8) |
           static_cast<uint32_t>(static_cast<unsigned char>(png[at + 3]));
  };
  EXPECT_EQ(be32(16), static_cast<uint32_t>(std::ceil(2 * parse_svg(svg).width)));  // IHDR width
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
  const Svg s = parse_svg(read_text(dir + "/audit-suspects-cosine.svg"));
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
  const Svg u = parse_svg(read_text(dir + "/audit-candidates-euclidean.svg"));
  EXPECT_EQ(u.count.at("circle"), 3);
  EXPECT_EQ(u.count.at("polygon"), 1);
  EXPECT_THAT(u.texts[0], HasSubstr("unlearning candidates of 'src' against 3 unrelated models"));
}
