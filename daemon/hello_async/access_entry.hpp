#pragma once

#include <spdlog/fmt/fmt.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hello_async {

/// One answered request, as the access log records it.
struct access_entry
{
    std::string_view method; ///< empty when the request line could not be parsed
    std::string_view target;
    unsigned version{11};
    std::string_view raw_line; ///< what the client sent instead, when unparsed
    unsigned status{0};
    std::uint64_t bytes{0};
    std::chrono::microseconds duration{0};
    std::string_view peer;
};

/// Appends "GET /sleep HTTP/1.1 200 320 5000.294ms 127.0.0.1:50464" to `out`: the request line
/// (control bytes escaped; an unparsed line in quotes), then status, bytes, duration and client.
/// parse_access_line reads this format back; the two are each other's contract.
void format_access_entry(fmt::memory_buffer& out, access_entry const& entry);

/// The fields of a formatted access line, for structured journal fields; views into the line.
struct access_fields
{
    std::string_view request_line;
    std::string_view method; ///< empty when the request line was not METHOD TARGET HTTP/x.y
    std::string_view target;
    std::string_view version; ///< "1.1"
    std::string_view status;
    std::string_view bytes;
    std::uint64_t duration_usec{0};
    std::string_view remote;
};

/// Splits a line made by format_access_entry; nullopt for any other text.
[[nodiscard]] std::optional<access_fields> parse_access_line(std::string_view line);

/// The syslog priority of a response status: info for 1xx-3xx, notice for 4xx, err for 5xx.
[[nodiscard]] int syslog_priority_for_status(unsigned status);

} // namespace hello_async
