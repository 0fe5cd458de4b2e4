#pragma once

#include "hello_async/http/authority.hpp"
#include "hello_async/http/request_head.hpp"
#include "hello_async/http/response.hpp"
#include "hello_async/http/site.hpp"
#include "hello_async/http/unique_fd.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hello_async {

/// What the connection, not the request, decides about an answer.
struct answer_terms
{
    bool keep_alive{true}; ///< the connection may carry another request after this one
    bool client_is_http10{false};
    /// Sent with every response: the Strict-Transport-Security value, over TLS.
    std::string_view strict_transport_security{};
    /// Set on a plain connection of a server that redirects to HTTPS: every request is answered
    /// 308 to the same target at this host (the request's validated authority) over HTTPS.
    authority const* https_redirect_host{nullptr};
    std::uint16_t https_port{443}; ///< where https_redirect_host is served over TLS
};

/// One part of a multipart/byteranges body: its delimiter and header lines, then a region of
/// the file.
struct body_part
{
    std::string text;
    std::uint64_t offset{0};
    std::uint64_t length{0};
};

/// Where a response's body comes from: bytes, a cached file's bytes, or an open file (the last
/// two as one region, offset and length, or as `parts`).
struct response_body
{
    std::string bytes;                         ///< a built-in page
    std::shared_ptr<std::string const> cached; ///< a cached file's bytes
    unique_fd file;                            ///< an open file
    std::uint64_t offset{0};
    std::uint64_t length{0};      ///< of the region; with parts, of the whole body
    std::vector<body_part> parts; ///< several ranges (RFC 9110 §14.6); the last has no region
};

/// Head field text that neither the site nor a cached file holds. On the heap, so that the
/// head's views stay valid when the plan moves.
struct response_text
{
    std::string etag;
    std::string last_modified;
    std::string content_range;
    std::string location;
    std::string content_type; ///< multipart/byteranges with its boundary
};

/// The answer to one request, free of any connection: a status and head fields, a body, or a
/// delay to wait first. Every view in `head` points into the site, `body.cached` or `text`,
/// so the plan stays valid for as long as it and the site live.
struct response_plan
{
    /// Non-zero: nothing else is set. Wait this long, then call answer_after_delay(). No file is
    /// held open meanwhile: ten thousand sleeping requests must not cost as many descriptors.
    std::chrono::milliseconds delay{0};
    response_head head;
    response_body body;
    bool send_body{true};   ///< false for HEAD, 204 and 304: the head says all
    bool must_close{false}; ///< the request could not be trusted: close after answering
    std::unique_ptr<response_text> text;
};

/// Decides the response to a parsed request: routing, validators, preconditions (RFC 9110
/// §13), ranges (§14), precompressed siblings, 405/501/505 and OPTIONS. Plain code that touches
/// no socket, so every protocol and the fuzzer call the same function.
[[nodiscard]] response_plan
answer(site const& site, request_head const& request, answer_terms terms);

/// The same, once the delay an earlier answer() asked for has passed.
[[nodiscard]] response_plan
answer_after_delay(site const& site, request_head const& request, answer_terms terms);

/// The error page for a request that could not be parsed or trusted; the connection closes.
[[nodiscard]] response_plan answer_refusal(site const& site, unsigned status);

} // namespace hello_async
