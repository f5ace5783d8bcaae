#include "modelgif/error.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <new>

namespace modelgif {

void throw_shared(int exit_code, const std::string& what) {
  switch (exit_code) {
    case kExitUsage:
      throw_shared(UsageError(what));
    case kExitInput:
      throw_shared(InputError(what));
    case kExitNumeric:
      throw_shared(NumericError(what));
    case kExitComm:
      throw_shared(CommError(what));
    case kExitCheckpointed:
      throw_shared(CheckpointedStop(what));
    default:
      throw_shared(Error(what, exit_code));
  }
}

ErrorReport report_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return {e.exit_code(), e.what(), e.shared()};
  } catch (const std::filesystem::filesystem_error& e) {
    std::string msg = e.code().message() + ": " + e.path1().string();
    if (!e.path2().empty()) msg += " -> " + e.path2().string();
    return {kExitInput, msg, false};
  } catch (const std::bad_alloc&) {
    return {kExitInput, "out of memory (lower run.block or run.max_points, or use more nodes)", false};
  } catch (const std::exception& e) {
    return {kExitInternal, "internal error: " + error_line(e.what()), false};
  } catch (...) {
    return {kExitInternal, "internal error: an exception of unknown type", false};
  }
}

std::string error_line(const std::string& what) {
  std::string found, first;
  size_t pos = 0;
  while (pos <= what.size()) {
    const size_t nl = std::min(what.find('\n', pos), what.size());
    std::string line = what.substr(pos, nl - pos);
    line.erase(0, line.find_first_not_of(' '));
    // "RuntimeError: ...", "builtins.ValueError: ...", "torch.jit.Error: ...", "MyException: ...".
    const size_t colon = line.find(": ");
    bool typed = colon != std::string::npos && colon > 0;
    for (size_t i = 0; typed && i < colon; ++i) {
      const unsigned char c = static_cast<unsigned char>(line[i]);
      typed = std::isalnum(c) != 0 || c == '_' || c == '.';
    }
    const std::string type = typed ? line.substr(0, colon) : "";
    typed = typed && (type.size() >= 5 && (type.compare(type.size() - 5, 5, "Error") == 0 ||
                                           (type.size() >= 9 && type.compare(type.size() - 9, 9, "Exception") == 0)));
    if (typed) found = line.rfind("RuntimeError: ", 0) == 0 ? line.substr(14) : line;
    if (first.empty()) first = line;
    pos = nl + 1;
  }
  const std::string& s = found.empty() ? first : found;
  return s.empty() ? "unknown error" : s;
}

}  // namespace modelgif
