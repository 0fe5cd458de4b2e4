#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hello_async {

/// What became of a request target.
struct normalized_target
{
    enum class outcome
    {
        ok,          ///< `path` is decoded and free of dot segments
        bad_request, ///< not a target an origin server accepts, or broken %-encoding
        nul_byte,    ///< decodes to a NUL: no file can have that name
    };
    outcome result{outcome::ok};
    std::string path;
};

/// Turns an origin-form or absolute-form target (RFC 9112 §3.2) into the path used for routing:
/// query dropped, %-decoded, repeated slashes merged, dot segments removed (RFC 3986 §5.2.4;
/// ".." never climbs above "/"). A trailing slash is kept: it marks a directory URL.
[[nodiscard]] normalized_target normalize_target(std::string_view target);

/// %-encodes every byte of a decoded path that may not stand in a URI path or a header value.
[[nodiscard]] std::string encode_path(std::string_view path);

/// Escapes bytes outside printable ASCII, and the backslash, as \xHH for log lines.
[[nodiscard]] std::string escape_for_log(std::string_view text);

/// `text` as the log shows it: itself when nothing in it needs escaping (almost always),
/// otherwise escape_for_log's result, kept in `storage`.
[[nodiscard]] std::string_view loggable(std::string_view text, std::string& storage);

} // namespace hello_async
