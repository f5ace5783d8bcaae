#include "analysis/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "modelgif/error.hpp"

namespace modelgif {
namespace {

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

std::string num(double v, int precision = 3) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  return buf;
}

// A perceptually ordered dark-to-light scale (viridis anchors).
std::string color(double t) {
  static const double anchors[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::clamp(std::isnan(t) ? 0.0 : t, 0.0, 1.0) * 4.0;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x",
                static_cast<int>(anchors[i][0] + f * (anchors[i + 1][0] - anchors[i][0])),
                static_cast<int>(anchors[i][1] + f * (anchors[i + 1][1] - anchors[i][1])),
                static_cast<int>(anchors[i][2] + f * (anchors[i + 1][2] - anchors[i][2])));
  return buf;
}

// Dash patterns and marker shapes that tell series apart without colour.
const char* const kDashes[4] = {"none", "6 3", "2 3", "8 3 2 3"};

std::string marker(int k, double x, double y, const std::string& c, const std::string& tip) {
  std::ostringstream s;
  const std::string t = "<title>" + tip + "</title>";
  switch (k % 5) {
    case 0:
      s << "<circle cx=\"" << num(x, 1) << "\" cy=\"" << num(y, 1) << "\" r=\"3.5\" fill=\"" << c << "\">" << t
        << "</circle>\n";
      break;
    case 1:
      s << "<rect x=\"" << num(x - 3.5, 1) << "\" y=\"" << num(y - 3.5, 1)
        << "\" width=\"7\" height=\"7\" fill=\"white\" stroke=\"" << c << "\" stroke-width=\"1.5\">" << t
        << "</rect>\n";
      break;
    case 2:
      s << "<polygon points=\"" << num(x, 1) << "," << num(y - 4.5, 1) << " " << num(x + 4, 1) << "," << num(y + 3, 1)
        << " " << num(x - 4, 1) << "," << num(y + 3, 1) << "\" fill=\"" << c << "\">" << t << "</polygon>\n";
      break;
    case 3:
      s << "<polygon points=\"" << num(x, 1) << "," << num(y - 4.5, 1) << " " << num(x + 4.5, 1) << "," << num(y, 1)
        << " " << num(x, 1) << "," << num(y + 4.5, 1) << " " << num(x - 4.5, 1) << "," << num(y, 1)
        << "\" fill=\"white\" stroke=\"" << c << "\" stroke-width=\"1.5\">" << t << "</polygon>\n";
      break;
    default:
      s << "<path d=\"M" << num(x - 3.5, 1) << " " << num(y - 3.5, 1) << " L" << num(x + 3.5, 1) << " "
        << num(y + 3.5, 1) << " M" << num(x + 3.5, 1) << " " << num(y - 3.5, 1) << " L" << num(x - 3.5, 1) << " "
        << num(y + 3.5, 1) << "\" stroke=\"" << c << "\" stroke-width=\"2\">" << t << "</path>\n";
  }
  return s.str();
}

std::string header(double w, double h, const std::string& title) {
  std::ostringstream s;
  s << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(w, 0) << "\" height=\"" << num(h, 0)
    << "\" viewBox=\"0 0 " << num(w, 0) << " " << num(h, 0) << "\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n"
    << "<title>" << esc(title) << "</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">" << esc(title) << "</text>\n";
  return s.str();
}

}  // namespace

std::string heatmap_svg(const std::vector<std::string>& names, const std::vector<double>& m, const std::string& title,
                        const std::vector<size_t>& order) {
  const size_t M = names.size();
  std::vector<size_t> at(M);  // at[i]: the model drawn in row/column i
  for (size_t i = 0; i < M; ++i) at[i] = order.size() == M ? order[i] : i;
  // Cells shrink with the zoo: about 900 px for the matrix beyond 60 models.
  const double cell = M <= 12 ? 44 : M <= 30 ? 24 : M <= 60 ? 14 : std::max(4.0, 900.0 / static_cast<double>(M));
  // Labels: as large as a cell allows (7 to 12 px); beyond that every k-th one.
  const size_t every = cell >= 8 ? 1 : static_cast<size_t>(std::ceil(8.0 / cell));
  const double font = std::clamp(cell * 0.8 * static_cast<double>(every), 7.0, 12.0);
  size_t longest = 4;
  for (const auto& n : names) longest = std::max(longest, n.size());
  const double label = 0.6 * font * static_cast<double>(longest) + 10;
  const std::string note = order.size() == M
                               ? "rows and columns in the similarity tree's order; the colour scale "
                                 "leaves out the diagonal"
                               : "rows and columns in zoo order; the colour scale leaves out the diagonal";
  const double left = label + 10, top = 40 + label * 0.75, h = top + std::max(120.0, cell * M) + 34;
  const double w = std::max(left + cell * M + 110, left + 6.2 * static_cast<double>(note.size()) + 10);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (size_t i = 0; i < M * M; ++i)
    if (i / M != i % M && std::isfinite(m[i])) lo = std::min(lo, m[i]), hi = std::max(hi, m[i]);
  if (!(hi > lo)) lo = 0, hi = std::max(1.0, hi);
  std::ostringstream s;
  s << header(w, h, title);
  for (size_t i = 0; i < M; ++i) {
    if (i % every != 0) continue;
    const std::string name = esc(names[at[i]]);
    s << "<text x=\"" << num(left - 6, 1) << "\" y=\"" << num(top + cell * (i + 0.5) + font / 3, 1) << "\" font-size=\""
      << num(font, 1) << "\" text-anchor=\"end\">" << name << "</text>\n";
    const double cx = left + cell * (i + 0.5), cy = top - 6;
    s << "<text x=\"" << num(cx, 1) << "\" y=\"" << num(cy, 1) << "\" font-size=\"" << num(font, 1)
      << "\" transform=\"rotate(-45 " << num(cx, 1) << " " << num(cy, 1) << ")\">" << name << "</text>\n";
  }
  for (size_t i = 0; i < M; ++i)
    for (size_t j = 0; j < M; ++j) {
      const double v = m[at[i] * M + at[j]];
      s << "<rect x=\"" << num(left + cell * j, 1) << "\" y=\"" << num(top + cell * i, 1) << "\" width=\""
        << num(cell, 1) << "\" height=\"" << num(cell, 1) << "\" fill=\"" << color((v - lo) / (hi - lo)) << "\"><title>"
        << esc(names[at[i]]) << " / " << esc(names[at[j]]) << ": " << num(v, 4) << "</title></rect>\n";
      if (cell >= 40)
        s << "<text x=\"" << num(left + cell * (j + 0.5), 1) << "\" y=\"" << num(top + cell * (i + 0.5) + 4, 1)
          << "\" font-size=\"10\" text-anchor=\"middle\" fill=\"" << ((v - lo) / (hi - lo) > 0.6 ? "black" : "white")
          << "\">" << num(v, 2) << "</text>\n";
    }
  // Color bar with five ticks; the diagonal (zeros) is left out of the scale.
  const double bx = left + cell * M + 20, bh = std::max(120.0, cell * M);
  for (int i = 0; i < 50; ++i)
    s << "<rect x=\"" << num(bx, 1) << "\" y=\"" << num(top + bh * (49 - i) / 50.0, 1) << "\" width=\"14\" height=\""
      << num(bh / 50.0 + 0.5, 2) << "\" fill=\"" << color(i / 49.0) << "\"/>\n";
  for (int i = 0; i <= 4; ++i)
    s << "<text x=\"" << num(bx + 18, 1) << "\" y=\"" << num(top + bh * (1 - i / 4.0) + 4, 1) << "\" font-size=\"11\">"
      << num(lo + (hi - lo) * i / 4.0) << "</text>\n";
  s << "<text x=\"" << num(left, 1) << "\" y=\"" << num(top + std::max(120.0, cell * M) + 22, 1)
    << "\" font-size=\"11\">" << note << "</text>\n</svg>\n";
  return s.str();
}

std::string dendrogram_svg(const std::vector<std::string>& names, const std::vector<Merge>& merges,
                           const std::string& title) {
  const size_t n = names.size();
  const auto order = leaf_order(merges, n);
  size_t longest = 4;
  for (const auto& nm : names) longest = std::max(longest, nm.size());
  // Rows shrink beyond 30 leaves (about 660 px in all), labels with them (7 to 12 px).
  const double row = n <= 30 ? 22 : std::max(7.0, 660.0 / static_cast<double>(n));
  const double font = std::clamp(row * 0.8, 7.0, 12.0);
  const double left = 20, plot_w = 420, label_x = left + plot_w + 8, top = 44;
  const double w = label_x + 0.6 * font * static_cast<double>(longest) + 20, h = top + row * n + 40;
  double max_h = 0;
  for (const auto& m : merges) max_h = std::max(max_h, m.height);
  if (!(max_h > 0)) max_h = 1;
  // Leaves on the right at height 0; the root on the left at max_h.
  std::vector<double> y(n + merges.size()), x(n + merges.size());
  for (size_t i = 0; i < order.size(); ++i) y[order[i]] = top + row * (i + 0.5), x[order[i]] = left + plot_w;
  std::ostringstream s;
  s << header(w, h, title);
  for (size_t j = 0; j < merges.size(); ++j) {
    const auto& m = merges[j];
    const size_t c = n + j;
    x[c] = left + plot_w * (1 - m.height / max_h);
    y[c] = (y[m.a] + y[m.b]) / 2;
    s << "<path d=\"M" << num(x[m.a], 1) << " " << num(y[m.a], 1) << " H" << num(x[c], 1) << " V" << num(y[m.b], 1)
      << " H" << num(x[m.b], 1) << "\" fill=\"none\" stroke=\"#3b528b\" stroke-width=\"1.6\"><title>height "
      << num(m.height, 4) << "</title></path>\n";
  }
  for (size_t i = 0; i < n; ++i)
    s << "<text x=\"" << num(label_x, 1) << "\" y=\"" << num(y[i] + font / 3, 1) << "\" font-size=\"" << num(font, 1)
      << "\">" << esc(names[i]) << "</text>\n";
  // Distance axis.
  const double ay = top + row * n + 10;
  s << "<line x1=\"" << num(left, 1) << "\" y1=\"" << num(ay, 1) << "\" x2=\"" << num(left + plot_w, 1) << "\" y2=\""
    << num(ay, 1) << "\" stroke=\"black\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double xv = left + plot_w * (1 - i / 4.0);
    s << "<text x=\"" << num(xv, 1) << "\" y=\"" << num(ay + 16, 1) << "\" font-size=\"10\" text-anchor=\"middle\">"
      << num(max_h * i / 4.0, 2) << "</text>\n";
  }
  s << "</svg>\n";
  return s.str();
}

std::string line_chart_svg(const std::map<std::string, std::vector<std::pair<double, double>>>& series,
                           const std::string& title, const std::string& x_label, const std::string& y_label,
                           bool log2_x, double y_min, double y_max) {
  const double left = 60, top = 40, pw = 420, ph = 260, w = left + pw + 190, h = top + ph + 64;
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  auto tx = [&](double v) { return log2_x ? std::log2(v) : v; };
  for (const auto& [name, pts] : series)
    for (const auto& [xv, yv] : pts) x_lo = std::min(x_lo, tx(xv)), x_hi = std::max(x_hi, tx(xv));
  if (!(x_hi > x_lo)) x_lo -= 1, x_hi += 1;
  auto px = [&](double v) { return left + pw * (tx(v) - x_lo) / (x_hi - x_lo); };
  auto py = [&](double v) { return top + ph * (1 - (v - y_min) / (y_max - y_min)); };
  std::ostringstream s;
  s << header(w, h, title);
  s << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"black\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double v = y_min + (y_max - y_min) * i / 4.0;
    s << "<text x=\"" << num(left - 6, 1) << "\" y=\"" << num(py(v) + 4, 1)
      << "\" font-size=\"10\" text-anchor=\"end\">" << num(v, 2) << "</text>\n";
  }
  std::vector<double> ticks;
  for (const auto& [name, pts] : series)
    for (const auto& p : pts) ticks.push_back(p.first);
  std::sort(ticks.begin(), ticks.end());
  ticks.erase(std::unique(ticks.begin(), ticks.end()), ticks.end());
  for (double t : ticks)
    s << "<text x=\"" << num(px(t), 1) << "\" y=\"" << num(top + ph + 16, 1)
      << "\" font-size=\"10\" text-anchor=\"middle\">" << num(t, 0) << "</text>\n";
  s << "<text x=\"" << num(left + pw / 2, 1) << "\" y=\"" << num(top + ph + 38, 1)
    << "\" font-size=\"12\" text-anchor=\"middle\">" << esc(x_label) << "</text>\n"
    << "<text x=\"16\" y=\"" << num(top + ph / 2, 1)
    << "\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 16 " << num(top + ph / 2, 1) << ")\">"
    << esc(y_label) << "</text>\n";
  // Lines that coincide (several kinds at AUC 1.0) stay apart: each series has
  // its own marker and dash, and is drawn shifted by a few pixels (its tooltips
  // and the axis keep the true values).
  const int K = static_cast<int>(series.size());
  const double spread_px = K > 1 ? std::min(3.0, 12.0 / (K - 1)) : 0.0;
  int k = 0;
  for (const auto& [name, pts] : series) {
    const std::string c = color(K > 1 ? k / static_cast<double>(K - 1) * 0.85 : 0.3);
    const double dy = (k - (K - 1) / 2.0) * spread_px;
    std::ostringstream d;
    for (size_t i = 0; i < pts.size(); ++i)
      d << (i ? " L" : "M") << num(px(pts[i].first), 1) << " " << num(py(pts[i].second) + dy, 1);
    s << "<path d=\"" << d.str() << "\" fill=\"none\" stroke=\"" << c << "\" stroke-width=\"2\" stroke-dasharray=\""
      << kDashes[k % 4] << "\"/>\n";
    for (const auto& [xv, yv] : pts)
      s << marker(k, px(xv), py(yv) + dy, c, esc(name) + ": " + num(yv, 3) + " at " + num(xv, 0));
    const double ly = top + 14 + 18 * k;
    s << "<path d=\"M" << num(left + pw + 10, 1) << " " << num(ly - 4, 1) << " h22\" stroke=\"" << c
      << "\" stroke-width=\"2\" stroke-dasharray=\"" << kDashes[k % 4] << "\"/>\n"
      << marker(k, left + pw + 21, ly - 4, c, esc(name)) << "<text x=\"" << num(left + pw + 38, 1) << "\" y=\""
      << num(ly, 1) << "\" font-size=\"12\" fill=\"" << c << "\">" << esc(name) << "</text>\n";
    ++k;
  }
  if (spread_px > 0)
    s << "<text x=\"" << num(left, 1) << "\" y=\"" << num(top + ph + 54, 1) << "\" font-size=\"10\">lines drawn up to "
      << num(spread_px * (K - 1) / 2.0, 1) << " px apart so that equal values stay visible</text>\n";
  s << "</svg>\n";
  return s.str();
}

std::string strip_svg(const std::vector<StripPoint>& dots, const std::vector<StripPoint>& marks,
                      const std::string& title, const std::string& axis_label, const std::string& note,
                      double threshold, const std::string& threshold_label) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto* points : {&dots, &marks})
    for (const auto& p : *points)
      if (std::isfinite(p.value)) lo = std::min(lo, p.value), hi = std::max(hi, p.value);
  if (std::isfinite(threshold)) lo = std::min(lo, threshold), hi = std::max(hi, threshold);
  if (!(hi >= lo)) lo = 0, hi = 1;
  const double pad = hi > lo ? 0.05 * (hi - lo) : std::max(0.05 * std::fabs(hi), 0.01);
  lo -= pad, hi += pad;
  // Marks on rows of their own (their labels never overlap), the dots below
  // them, stacked downwards where two would touch.
  const double left = 30, pw = 640, top = 48, row = 20;
  const double strip = top + row * static_cast<double>(marks.size()) + 24;
  const auto px = [&](double v) { return left + pw * (v - lo) / (hi - lo); };
  std::vector<std::vector<double>> levels;  // x of the dots on each level
  std::vector<double> dot_y;
  for (const auto& d : dots) {
    size_t level = 0;
    for (; level < levels.size(); ++level) {
      bool free = true;
      for (const double x : levels[level]) free = free && std::fabs(x - px(d.value)) >= 8;
      if (free) break;
    }
    if (level == levels.size()) levels.emplace_back();
    levels[level].push_back(px(d.value));
    dot_y.push_back(strip + 9.0 * static_cast<double>(level));
  }
  const double axis = strip + 9.0 * static_cast<double>(std::max<size_t>(levels.size(), 1)) + 8;
  const double w = left + pw + 30, h = axis + 62;
  std::ostringstream s;
  s << header(std::max(w, 6.2 * static_cast<double>(note.size()) + 20), h, title);
  if (std::isfinite(threshold))
    s << "<line x1=\"" << num(px(threshold), 1) << "\" y1=\"" << num(top - 6, 1) << "\" x2=\"" << num(px(threshold), 1)
      << "\" y2=\"" << num(axis, 1) << "\" stroke=\"#888888\" stroke-dasharray=\"5 3\"/>\n"
      << "<text x=\"" << num(px(threshold) + 4, 1) << "\" y=\"" << num(top - 10, 1)
      << "\" font-size=\"10\" fill=\"#555555\"" << (px(threshold) > left + pw / 2 ? " text-anchor=\"end\"" : "") << ">"
      << esc(threshold_label) << "</text>\n";
  for (size_t i = 0; i < dots.size(); ++i)
    s << "<circle cx=\"" << num(px(dots[i].value), 1) << "\" cy=\"" << num(dot_y[i], 1)
      << "\" r=\"3.5\" fill=\"#6b6b6b\" fill-opacity=\"0.8\"><title>" << esc(dots[i].name) << ": "
      << num(dots[i].value, 4) << "</title></circle>\n";
  for (size_t k = 0; k < marks.size(); ++k) {
    const auto& m = marks[k];
    const double x = px(m.value), y = top + row * static_cast<double>(k) + 8;
    const std::string c = m.highlight ? "#c0392b" : "#3b528b";
    const bool right = x > left + pw / 2;  // label on the side with room
    s << "<line x1=\"" << num(x, 1) << "\" y1=\"" << num(y, 1) << "\" x2=\"" << num(x, 1) << "\" y2=\"" << num(axis, 1)
      << "\" stroke=\"" << c << "\" stroke-width=\"1\" stroke-opacity=\"0.6\"/>\n"
      << "<polygon points=\"" << num(x - 5, 1) << "," << num(y - 5, 1) << " " << num(x + 5, 1) << "," << num(y - 5, 1)
      << " " << num(x, 1) << "," << num(y + 4, 1) << "\" fill=\"" << c << "\"><title>" << esc(m.name) << ": "
      << num(m.value, 4) << "</title></polygon>\n"
      << "<text x=\"" << num(right ? x - 8 : x + 8, 1) << "\" y=\"" << num(y + 3, 1) << "\" font-size=\"11\" fill=\""
      << c << "\"" << (right ? " text-anchor=\"end\"" : "") << ">" << esc(m.label) << "</text>\n";
  }
  s << "<line x1=\"" << num(left, 1) << "\" y1=\"" << num(axis, 1) << "\" x2=\"" << num(left + pw, 1) << "\" y2=\""
    << num(axis, 1) << "\" stroke=\"black\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double v = lo + (hi - lo) * i / 4.0;
    s << "<text x=\"" << num(px(v), 1) << "\" y=\"" << num(axis + 14, 1)
      << "\" font-size=\"10\" text-anchor=\"middle\">" << num(v, 3) << "</text>\n";
  }
  s << "<text x=\"" << num(left + pw / 2, 1) << "\" y=\"" << num(axis + 32, 1)
    << "\" font-size=\"12\" text-anchor=\"middle\">" << esc(axis_label) << "</text>\n"
    << "<text x=\"10\" y=\"" << num(axis + 52, 1) << "\" font-size=\"10\">" << esc(note) << "</text>\n</svg>\n";
  return s.str();
}

}  // namespace modelgif
