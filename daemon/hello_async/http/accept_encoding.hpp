#pragma once

#include <optional>
#include <string_view>

namespace hello_async {

/// The content codings a client accepts, from Accept-Encoding with its q-values (RFC 9110
/// §12.5.3). An absent field accepts everything but prefers identity, so nothing is compressed.
struct accepted_codings
{
    bool br{false};
    bool gzip{false};
};
[[nodiscard]] accepted_codings parse_accept_encoding(std::optional<std::string_view> field);

} // namespace hello_async
