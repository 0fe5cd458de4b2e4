#pragma once

#include <string_view>

namespace hello_async {

/// The Content-Type for a file name, from its extension; application/octet-stream when unknown.
[[nodiscard]] std::string_view mime_type_for(std::string_view file_name);

} // namespace hello_async
