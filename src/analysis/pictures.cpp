#include "analysis/pictures.hpp"

#if MODELGIF_PNG
#include <cairo.h>
#include <librsvg/rsvg.h>
#endif

#include <cmath>
#include <filesystem>

#include "analysis/svg.hpp"
#include "base/files.hpp"
#include "modelgif/error.hpp"
#include "modelgif/stats.hpp"

namespace modelgif {

PictureOrder parse_picture_order(const std::string& s) {
  if (s == "tree") return PictureOrder::Tree;
  if (s == "zoo") return PictureOrder::Zoo;
  throw_usage("--order: expected tree or zoo, got '" + s + "'");
}

std::string picture_stem(const std::string& result_path, const std::string& folder) {
  if (folder.empty()) {
    const bool h5 = result_path.size() > 3 && result_path.substr(result_path.size() - 3) == ".h5";
    return result_path.substr(0, result_path.size() - (h5 ? 3 : 0));
  }
  ensure_dir(folder, "pictures");
  return folder + "/" + std::filesystem::path(result_path).stem().string();
}

std::vector<std::string> write_metric_pictures(const std::string& stem, const std::string& result_path,
                                               const std::vector<std::string>& names, const std::vector<double>& matrix,
                                               const std::string& metric, const PictureOptions& options) {
  const auto merges = average_linkage(matrix, names.size());
  const std::vector<size_t> order =
      options.order == PictureOrder::Tree ? leaf_order(merges, names.size()) : std::vector<size_t>{};
  const std::string name = std::filesystem::path(result_path).filename().string();
  const std::vector<std::pair<std::string, std::string>> pictures = {
      {stem + "-heatmap-" + metric, heatmap_svg(names, matrix, metric + " distance: " + name, order)},
      {stem + "-tree-" + metric,
       dendrogram_svg(names, merges, "similarity tree (average linkage, " + metric + "): " + name)}};
  std::vector<std::string> paths;
  for (const auto& [path, svg] : pictures) write_picture(path, svg, options, paths);
  return paths;
}

void write_picture(const std::string& path, const std::string& svg, const PictureOptions& options,
                   std::vector<std::string>& paths) {
  write_text_atomic(path + ".svg", svg);
  paths.push_back(path + ".svg");
  if (options.png) {
    svg_to_png(svg, path + ".png");
    paths.push_back(path + ".png");
  }
}

std::vector<std::string> write_result_pictures(const std::string& result_path, const RunResult& result,
                                               const PictureOptions& options) {
  const std::string stem = picture_stem(result_path, options.folder);
  std::vector<std::string> paths;
  for (size_t i = 0; i < result.metrics.size(); ++i)
    for (auto& p :
         write_metric_pictures(stem, result_path, result.names, result.matrices[i], result.metrics[i], options))
      paths.push_back(std::move(p));
  return paths;
}

#if !MODELGIF_PNG
void svg_to_png(const std::string&, const std::string& png_path, double) {
  throw_input(png_path +
              ": this modelgif was built without librsvg (-DMODELGIF_PNG=OFF): no PNG pictures; the SVG "
              "ones are written");
}
#else
void svg_to_png(const std::string& svg, const std::string& png_path, double scale) {
  GError* error = nullptr;
  RsvgHandle* handle = rsvg_handle_new_from_data(reinterpret_cast<const guint8*>(svg.data()), svg.size(), &error);
  if (!handle) {
    const std::string why = error ? error->message : "unknown error";
    if (error) g_error_free(error);
    throw_input(png_path + ": librsvg cannot read the picture: " + why);
  }
  gdouble w = 0, h = 0;
  rsvg_handle_get_intrinsic_size_in_pixels(handle, &w, &h);
  const int W = static_cast<int>(std::ceil(w * scale)), H = static_cast<int>(std::ceil(h * scale));
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, std::max(1, W), std::max(1, H));
  cairo_t* cr = cairo_create(surface);
  const RsvgRectangle viewport{0, 0, static_cast<double>(W), static_cast<double>(H)};
  const bool drawn = rsvg_handle_render_document(handle, cr, &viewport, &error);
  std::string bytes;
  const cairo_status_t status =
      drawn ? cairo_surface_write_to_png_stream(
                  surface,
                  [](void* out, const unsigned char* data, unsigned int n) {
                    static_cast<std::string*>(out)->append(reinterpret_cast<const char*>(data), n);
                    return CAIRO_STATUS_SUCCESS;
                  },
                  &bytes)
            : CAIRO_STATUS_WRITE_ERROR;
  const std::string why = error ? error->message : cairo_status_to_string(status);
  if (error) g_error_free(error);
  cairo_destroy(cr);
  cairo_surface_destroy(surface);
  g_object_unref(handle);
  if (!drawn || status != CAIRO_STATUS_SUCCESS) throw_input(png_path + ": librsvg cannot render the picture: " + why);
  write_text_atomic(png_path, bytes);
}
#endif

}  // namespace modelgif
