#pragma once

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

/// Appends the status line and header section, ending in the blank line, to `out`.
void append_response_head(std::string& out, response_head const& head);

/// The server token sent in every response.
[[nodiscard]] std::string_view server_token();

} // namespace hello_async
