#pragma once

#include "hello_async/http/authority.hpp"
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

/// A request line's three parts, split without a parser: for logging a request that could not
/// be parsed, and for the versions Beast's parser does not take.
struct request_line
{
    std::string_view method;
    std::string_view target;
    std::string_view version;
};

/// The first line of `head` as METHOD SP TARGET SP VERSION, each part non-empty and the method
/// a token; nullopt when it is not shaped like a request line.
[[nodiscard]] std::optional<request_line> split_request_line(std::string_view head);

/// "HTTP/1.1" -> 11; nullopt unless `version` is "HTTP/" DIGIT "." DIGIT.
[[nodiscard]] std::optional<unsigned> version_number(std::string_view version);

/// What a request line's version means here (RFC 9112 §2.3).
enum class version_verdict
{
    as_is,        ///< HTTP/1.0, HTTP/1.1, or not a version at all (the parser decides)
    serve_as_1_1, ///< HTTP/1.2 and up: a higher minor version is served as HTTP/1.1
    unsupported,  ///< HTTP/2.0, HTTP/3.0...: 505
};
[[nodiscard]] version_verdict judge_version(std::string_view version);

/// What the checks of a parsed head found.
struct head_check
{
    unsigned refusal{0}; ///< non-zero: answer with this status, then close
    /// Whom the request is for: the authority of an absolute-form or CONNECT target, else the
    /// Host field's; an empty host for an HTTP/1.0 request without Host.
    authority host{};
    bool expects_continue{false}; ///< "Expect: 100-continue" on HTTP/1.1
};

/// The rules checked once Beast has parsed a head, for requests over any protocol:
/// - 400 (RFC 9112 §3.2, §6): Content-Length with Transfer-Encoding, more than one
///   Content-Length, a Transfer-Encoding whose final coding is not chunked or sent with
///   HTTP/1.0; not exactly one Host in HTTP/1.1 (at most one in HTTP/1.0); a Host or target
///   authority that parse_authority() refuses, or one with userinfo (RFC 9110 §4.2.4); a
///   CONNECT target that is not host:port (RFC 9112 §3.2.3).
/// - 414: a target longer than uri_bytes. 431: more header fields than header_fields.
/// - 417: an expectation other than 100-continue (RFC 9110 §10.1.1); HTTP/1.0 ignores Expect.
[[nodiscard]] head_check check_request_head(request_head const& req, limits const& lim);

} // namespace hello_async
