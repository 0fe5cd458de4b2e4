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
    std::string_view query{}; ///< what followed '?' in the target, as sent
};

/// Turns an origin-form or absolute-form target (RFC 9112 §3.2) into the path used for routing:
/// query dropped, %-decoded, repeated slashes merged, dot segments removed (RFC 3986 §5.2.4;
/// ".." never climbs above "/"). A trailing slash is kept: it marks a directory URL.
[[nodiscard]] normalized_target normalize_target(std::string_view target);

/// %-encodes every byte of a decoded path that may not stand in a URI path or a header value.
[[nodiscard]] std::string encode_path(std::string_view path);

} // namespace hello_async
