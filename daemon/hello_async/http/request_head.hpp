#pragma once

#include "hello_async/http/limits.hpp"

#include <boost/beast/http/message.hpp>

#include <cstddef>
#include <optional>
#include <string_view>

namespace hello_async {

/// A parsed request head, as every protocol hands it to answer().
using request_head = boost::beast::http::request_header<>;

/// Where a request head ends in `data`: just past the empty line. npos while incomplete.
/// A bare LF line end counts too, so that head_is_clean() can refuse it instead of waiting.
[[nodiscard]] std::size_t find_head_end(std::string_view data);

/// What RFC 9112 forbids and a lenient parser might let through, checked on the raw bytes of a
/// request head: NUL anywhere, CR not followed by LF, LF not preceded by CR, obs-fold (a line
/// that starts with SP or HTAB), and control bytes other than HTAB.
[[nodiscard]] bool head_is_clean(std::string_view head);

/// Framing and header rules checked once Beast has parsed the head (RFC 9112 §3.2, §6): the
/// status to answer (and then close) with, or nullopt when the request may be served.
/// 400: Content-Length with Transfer-Encoding, more than one Content-Length, a
/// Transfer-Encoding whose final coding is not chunked or sent with HTTP/1.0, not exactly one
/// Host in HTTP/1.1 (at most one in HTTP/1.0). 414: a target longer than uri_bytes.
/// 431: more header fields than header_fields.
[[nodiscard]] std::optional<unsigned> framing_problem_of(request_head const& req,
                                                         limits const& lim);

} // namespace hello_async
