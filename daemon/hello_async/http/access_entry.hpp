#pragma once

#include <array>
#include <chrono>
#include <cstdint>
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
    std::string_view tls_protocol; ///< "TLSv1.3"; empty on a plain connection
    std::string_view tls_cipher;
    std::string_view tls_sni; ///< the server name the client asked for, if it did
};

/// Appends "GET /sleep HTTP/1.1 200 320 5000.294ms 127.0.0.1:50464" to `out`: the request line
/// (control bytes escaped; an unparsed line in quotes), then status, bytes, duration and client.
void format_access_entry(std::string& out, access_entry const& entry);

/// The request's duration in whole microseconds (never negative, whatever the clock did).
[[nodiscard]] std::uint64_t duration_usec(access_entry const& entry);

/// The version of a request that came over HTTP/2; request lines give 10 * major + minor.
constexpr unsigned http2_version = 2;

/// "1.1" for HTTP version 11, "2.0" for a request line's HTTP/2.0; "2" for http2_version
/// (RFC 9113 names no minor version).
[[nodiscard]] std::string_view version_text(unsigned version);

/// Escapes bytes outside printable ASCII, and the backslash, as \xHH for log lines.
[[nodiscard]] std::string escape_for_log(std::string_view text);

/// `text` as the log shows it: itself when nothing in it needs escaping (almost always),
/// otherwise escape_for_log's result, kept in `storage`.
[[nodiscard]] std::string_view loggable(std::string_view text, std::string& storage);

/// The syslog priority of a response status: info for 1xx-3xx, notice for 4xx, err for 5xx.
[[nodiscard]] int syslog_priority_for_status(unsigned status);

} // namespace hello_async
