#pragma once

#include "hello_async/http/decimal.hpp"
#include "hello_async/http/http_date.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace hello_async {

/// The fields of a response head that vary from one response to the next.
struct response_head
{
    bool keep_alive{true};
    bool client_is_http10{false};
    unsigned status{200};
    std::string_view content_type;
    std::uint64_t content_length{0};
    bool omit_content_length{false}; ///< 204 and 304
    std::string_view allow;
    std::string_view location;
    std::string_view etag;
    std::string_view last_modified;
    bool accept_ranges{false};
    std::string_view content_range;
    std::string_view content_encoding;
    bool vary_accept_encoding{false};
    std::string_view cache_control;
    std::string_view retry_after;               ///< 503
    std::string_view strict_transport_security; ///< HSTS, over TLS only
};

/// A response field's name as each protocol spells it: HTTP/2 wants lower case (RFC 9113 §8.2.1).
struct field_name
{
    std::string_view http1;
    std::string_view http2;
};

/// The server token sent in every response.
[[nodiscard]] std::string_view server_token();

/// Calls visit(field_name, value) for every field of the head, in the order sent, but the
/// connection-specific ones (Connection): the one list both protocols send.
template <class Visit>
void for_each_response_field(response_head const& head, Visit&& visit)
{
    auto add = [&visit](field_name name, std::string_view value) {
        if (!value.empty())
            visit(name, value);
    };
    visit(field_name{"Server", "server"}, server_token());
    visit(field_name{"Date", "date"}, current_http_date());
    add({"Content-Type", "content-type"}, head.content_type);
    if (!head.omit_content_length) {
        decimal const length{head.content_length};
        visit(field_name{"Content-Length", "content-length"}, length.text());
    }
    add({"Allow", "allow"}, head.allow);
    add({"Location", "location"}, head.location);
    add({"ETag", "etag"}, head.etag);
    add({"Last-Modified", "last-modified"}, head.last_modified);
    if (head.accept_ranges)
        visit(field_name{"Accept-Ranges", "accept-ranges"}, "bytes");
    add({"Content-Range", "content-range"}, head.content_range);
    add({"Content-Encoding", "content-encoding"}, head.content_encoding);
    if (head.vary_accept_encoding)
        visit(field_name{"Vary", "vary"}, "Accept-Encoding");
    add({"Cache-Control", "cache-control"}, head.cache_control);
    add({"Retry-After", "retry-after"}, head.retry_after);
    add({"Strict-Transport-Security", "strict-transport-security"}, head.strict_transport_security);
}

/// Appends the status line and header section, ending in the blank line, to `out`.
void append_response_head(std::string& out, response_head const& head);

} // namespace hello_async
