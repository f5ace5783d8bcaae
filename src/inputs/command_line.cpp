#include "inputs/command_line.hpp"

#include <limits>

#include "inputs/strict_yaml.hpp"
#include "modelgif/error.hpp"

namespace po = boost::program_options;

namespace modelgif {
namespace {

constexpr int kStyle = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;

}  // namespace

bool parse_command(const std::vector<std::string>& args, const po::options_description& desc,
                   const po::positional_options_description* positional, const std::string& usage, std::ostream& out,
                   po::variables_map& vm) {
  // Arguments beyond the positional ones the command takes land in a hidden
  // option, so that a stray word is refused by name, not silently ignored.
  po::options_description all;
  all.add(desc).add_options()("modelgif-stray-argument", po::value<std::vector<std::string>>());
  po::positional_options_description pos = positional ? *positional : po::positional_options_description();
  if (pos.max_total_count() != std::numeric_limits<unsigned>::max()) pos.add("modelgif-stray-argument", -1);
  po::command_line_parser parser(args);
  parser.options(all).style(kStyle).positional(pos);
  try {
    po::store(parser.run(), vm);
  } catch (const po::unknown_option& e) {
    std::string name = e.get_option_name();
    while (!name.empty() && name[0] == '-') name.erase(0, 1);
    std::vector<std::string> known;
    for (const auto& o : desc.options()) known.push_back(o->long_name());
    throw_usage("unknown option '--" + name + "' (did you mean '--" + yaml::nearest(name, known) + "'?)");
  }
  if (vm.count("help")) {
    out << usage << "\n\n" << desc;
    return false;
  }
  if (vm.count("modelgif-stray-argument"))
    throw_usage("unexpected argument '" + vm["modelgif-stray-argument"].as<std::vector<std::string>>().front() +
                "' (options are --KEY VALUE; see --help)");
  po::notify(vm);
  return true;
}

}  // namespace modelgif
