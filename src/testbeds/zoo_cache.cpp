#include "testbeds/zoo_cache.hpp"

#include <filesystem>
#include <iomanip>
#include <map>
#include <sstream>

#include "base/files.hpp"
#include "inputs/fashion.hpp"
#include "modelgif/error.hpp"

namespace fs = std::filesystem;

namespace modelgif {

ZooFolder::ZooFolder(std::string dir, std::string stamp) : dir_(std::move(dir)), stamp_(std::move(stamp)) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
}

bool ZooFolder::has(const std::string& name) const {
  std::error_code ec;
  return fs::is_regular_file(model(name), ec);
}

void ZooFolder::prepare(const comm::Comm& world, std::ostream& out) const {
  comm::collective(world, [&] {
    if (world.rank() != 0) return;
    std::error_code ec;
    std::string old;
    if (fs::is_regular_file(dir_ + "/RECIPE", ec)) {
      old = read_stored_text(dir_ + "/RECIPE", "zoo stamp");
      old = old.substr(0, old.find('\n'));
    }
    if (old != stamp_ && fs::exists(models(), ec)) {
      out << "zoo: config or recipes changed: retraining\n";
      fs::remove_all(models(), ec);
      if (ec) throw_input("zoo " + dir_ + ": cannot remove the old models: " + ec.message());
      for (const char* f : {"run.yaml", "roles.yaml", "affinity.svg"}) fs::remove(dir_ + "/" + f, ec);
    }
    ensure_dir(models(), "zoo " + dir_);
    write_text_atomic(dir_ + "/RECIPE", stamp_ + "\n");
  });
}

void ZooFolder::save(torch::jit::Module& m, const std::string& name) const {
  AtomicFile file(model(name));
  try {
    m.save(file.temp());
  } catch (const c10::Error& e) {
    throw_input("zoo: cannot save model " + file.path() + ": " + error_line(e.what()));
  }
  file.commit();
}

void ZooFolder::write_yaml(const std::string& file, const YAML::Node& node, const std::string& comment) const {
  YAML::Emitter e;
  if (!comment.empty()) e << YAML::Comment(comment) << YAML::Newline;
  e << node;
  write_text_atomic(dir_ + "/" + file, std::string(e.c_str()) + "\n");
}

std::string seconds_since(std::chrono::steady_clock::time_point t0) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(0)
    << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s";
  return s.str();
}

void train_missing(const std::vector<Recipe>& recipes, const TrainingData& data, const ZooFolder& zoo,
                   const comm::Comm& world, std::ostream& out) {
  const int rank = world.rank(), ranks = world.size();
  // Waves: a recipe's wave is one more than its base's (bases come first in the list).
  std::map<std::string, int> wave;
  int waves = 0;
  for (const auto& r : recipes) {
    const auto base = wave.find(r.base);
    if (!r.base.empty() && base == wave.end()) throw_internal("zoo: " + r.name + " comes before its base " + r.base);
    waves = std::max(waves, (wave[r.name] = r.base.empty() ? 0 : base->second + 1) + 1);
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (int w = 0; w < waves; ++w) {
    std::vector<const Recipe*> todo;
    for (const auto& r : recipes)
      if (wave[r.name] == w) todo.push_back(&r);
    comm::collective(world, [&] {
      for (size_t i = static_cast<size_t>(rank); i < todo.size(); i += static_cast<size_t>(ranks)) {
        const Recipe& r = *todo[i];
        if (zoo.has(r.name)) continue;
        auto m = make_model(r, data, [&](const std::string& name) { return zoo.model(name); });
        zoo.save(m, r.name);
        std::ostringstream line;
        line << "zoo: " << std::left << std::setw(14) << r.name << std::right << " test accuracy " << std::fixed
             << std::setprecision(3) << test_accuracy(r, m, data) << "  " << r.how << " (rank " << rank << ", "
             << seconds_since(t0) << ")";
        out << line.str() << std::endl;
      }
    });
  }
}

YAML::Node yaml_list(const std::vector<std::string>& items) {
  YAML::Node list(YAML::NodeType::Sequence);
  for (const auto& i : items) list.push_back(i);
  list.SetStyle(YAML::EmitterStyle::Flow);
  return list;
}

std::string yaml_number(double v) {
  std::ostringstream s;
  s << std::setprecision(6) << v;
  return s.str();
}

YAML::Node testbed_run_config(const ZooFolder& zoo, const std::vector<std::string>& names, const std::string& data,
                              int references, int steps, const YAML::Node& field, bool store_fields) {
  YAML::Node run;
  for (const auto& n : names) {
    YAML::Node e;
    e["name"] = n;
    e["path"] = zoo.model(n);
    e.SetStyle(YAML::EmitterStyle::Flow);
    run["zoo"].push_back(e);
  }
  YAML::Node refs;
  refs["source"] = fashion_test_images(data);
  refs["count"] = references;
  refs["select"] = "random";
  refs["seed"] = 0;
  refs["mean"] = yaml_list({yaml_number(kFashionMean)});
  refs["std"] = yaml_list({yaml_number(kFashionStd)});
  run["references"] = refs;
  YAML::Node f;
  f["steps"] = steps;
  for (const auto& kv : field) f[kv.first.Scalar()] = kv.second;
  f["baseline"] = "zeros";
  f.SetStyle(YAML::EmitterStyle::Flow);
  run["field"] = f;
  YAML::Node distance;
  distance["metrics"] = yaml_list({"cosine", "euclidean"});
  distance.SetStyle(YAML::EmitterStyle::Flow);
  run["distance"] = distance;
  YAML::Node output;
  output["path"] = zoo.dir() + "/out.h5";
  output["store_fields"] = store_fields;
  output.SetStyle(YAML::EmitterStyle::Flow);
  run["output"] = output;
  return run;
}

}  // namespace modelgif
