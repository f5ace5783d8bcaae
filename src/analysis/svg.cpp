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

std::string heatmap_svg(const std::vector<std::string>& names, const std::vector<double>& m, const std::string& title) {
  const size_t M = names.size();
  size_t longest = 4;
  for (const auto& n : names) longest = std::max(longest, n.size());
  const double cell = M <= 12 ? 44 : (M <= 30 ? 24 : 12), label = 7.0 * static_cast<double>(longest) + 10;
  const double left = label + 10, top = 40 + label * 0.75, w = left + cell * M + 90, h = top + cell * M + 20;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (size_t i = 0; i < M * M; ++i)
    if (i / M != i % M && std::isfinite(m[i])) lo = std::min(lo, m[i]), hi = std::max(hi, m[i]);
  if (!(hi > lo)) lo = 0, hi = std::max(1.0, hi);
  std::ostringstream s;
  s << header(w, h, title);
  for (size_t a = 0; a < M; ++a) {
    s << "<text x=\"" << num(left - 6, 1) << "\" y=\"" << num(top + cell * (a + 0.5) + 4, 1)
      << "\" font-size=\"12\" text-anchor=\"end\">" << esc(names[a]) << "</text>\n";
    const double cx = left + cell * (a + 0.5), cy = top - 6;
    s << "<text x=\"" << num(cx, 1) << "\" y=\"" << num(cy, 1) << "\" font-size=\"12\" transform=\"rotate(-45 "
      << num(cx, 1) << " " << num(cy, 1) << ")\">" << esc(names[a]) << "</text>\n";
    for (size_t b = 0; b < M; ++b) {
      const double v = m[a * M + b];
      s << "<rect x=\"" << num(left + cell * b, 1) << "\" y=\"" << num(top + cell * a, 1) << "\" width=\""
        << num(cell, 1) << "\" height=\"" << num(cell, 1) << "\" fill=\"" << color((v - lo) / (hi - lo)) << "\"><title>"
        << esc(names[a]) << " / " << esc(names[b]) << ": " << num(v, 4) << "</title></rect>\n";
      if (cell >= 40)
        s << "<text x=\"" << num(left + cell * (b + 0.5), 1) << "\" y=\"" << num(top + cell * (a + 0.5) + 4, 1)
          << "\" font-size=\"10\" text-anchor=\"middle\" fill=\"" << ((v - lo) / (hi - lo) > 0.6 ? "black" : "white")
          << "\">" << num(v, 2) << "</text>\n";
    }
  }
  // Color bar.
  const double bx = left + cell * M + 20;
  for (int i = 0; i < 50; ++i)
    s << "<rect x=\"" << num(bx, 1) << "\" y=\"" << num(top + cell * M * (49 - i) / 50.0, 1)
      << "\" width=\"14\" height=\"" << num(cell * M / 50.0 + 0.5, 2) << "\" fill=\"" << color(i / 49.0) << "\"/>\n";
  s << "<text x=\"" << num(bx + 18, 1) << "\" y=\"" << num(top + 10, 1) << "\" font-size=\"11\">" << num(hi)
    << "</text>\n"
    << "<text x=\"" << num(bx + 18, 1) << "\" y=\"" << num(top + cell * M, 1) << "\" font-size=\"11\">" << num(lo)
    << "</text>\n</svg>\n";
  return s.str();
}

std::string dendrogram_svg(const std::vector<std::string>& names, const std::vector<Merge>& merges,
                           const std::string& title) {
  const size_t n = names.size();
  const auto order = leaf_order(merges, n);
  size_t longest = 4;
  for (const auto& nm : names) longest = std::max(longest, nm.size());
  const double row = 22, left = 20, plot_w = 420, label_x = left + plot_w + 8, top = 44;
  const double w = label_x + 7.0 * static_cast<double>(longest) + 20, h = top + row * n + 40;
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
    s << "<text x=\"" << num(label_x, 1) << "\" y=\"" << num(y[i] + 4, 1) << "\" font-size=\"12\">" << esc(names[i])
      << "</text>\n";
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
  const double left = 60, top = 40, pw = 420, ph = 260, w = left + pw + 170, h = top + ph + 60;
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
  int k = 0;
  for (const auto& [name, pts] : series) {
    const std::string c = color(series.size() > 1 ? k / static_cast<double>(series.size() - 1) * 0.85 : 0.3);
    std::ostringstream d;
    for (size_t i = 0; i < pts.size(); ++i)
      d << (i ? " L" : "M") << num(px(pts[i].first), 1) << " " << num(py(pts[i].second), 1);
    s << "<path d=\"" << d.str() << "\" fill=\"none\" stroke=\"" << c << "\" stroke-width=\"2\"/>\n";
    for (const auto& [xv, yv] : pts)
      s << "<circle cx=\"" << num(px(xv), 1) << "\" cy=\"" << num(py(yv), 1) << "\" r=\"3\" fill=\"" << c
        << "\"><title>" << esc(name) << ": " << num(yv, 3) << " at " << num(xv, 0) << "</title></circle>\n";
    s << "<text x=\"" << num(left + pw + 14, 1) << "\" y=\"" << num(top + 14 + 18 * k, 1)
      << "\" font-size=\"12\" fill=\"" << c << "\">" << esc(name) << "</text>\n";
    ++k;
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace modelgif
