#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hello_async {

/// The fields of a response head that vary from one response to the next.
struct response_head
{
    unsigned status{200};
    std::string_view content_type;
    std::uint64_t content_length{0};
    bool keep_alive{true};
    bool client_is_http10{false};
    std::string_view allow;
    std::string_view location;
};

/// Appends the status line and header section, ending in the blank line, to `out`.
void append_response_head(std::string& out, response_head const& head);

/// The server token sent in every response.
[[nodiscard]] std::string_view server_token();

} // namespace hello_async
