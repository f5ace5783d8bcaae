// Text that scripts read back exactly: CSV (RFC 4180) and JSON strings, and
// doubles with every digit they hold. One writer for every CSV the program
// makes (`show --format csv`, the sweep summary, `eval --format csv`).
#pragma once

#include <string>
#include <vector>

namespace modelgif {

// %.17g: reads back as the same double.
std::string exact(double v);
// One CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& s);
// A CSV line of fields, ending in "\n".
std::string csv_row(const std::vector<std::string>& fields);
// A JSON string literal: quotes, backslashes and control characters escaped.
std::string json_string(const std::string& s);

}  // namespace modelgif
