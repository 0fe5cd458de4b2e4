#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace hello_async {

/// Every timeout and size cap of the daemon, with its default: the one place defaults live.
/// hello-async.toml(5) states each, and a test keeps the page in agreement.
struct limits
{
    /// The whole request head must arrive within this time once its first byte has (slowloris).
    std::chrono::milliseconds header_timeout{std::chrono::seconds{10}};
    /// How long an idle keep-alive connection waits for the next request.
    std::chrono::milliseconds keepalive_timeout{std::chrono::seconds{60}};
    /// Longest pause allowed while a request body is being received.
    std::chrono::milliseconds body_timeout{std::chrono::seconds{10}};
    /// Longest time one write may make no progress (a client that never reads).
    std::chrono::milliseconds send_timeout{std::chrono::seconds{30}};
    /// On SIGTERM, how long in-flight requests get before the daemon exits anyway.
    std::chrono::milliseconds shutdown_grace{std::chrono::seconds{10}};
    /// Request line plus header fields; beyond it: 431 (or 414 when the target alone is too long).
    std::uint32_t header_bytes{16U * 1024};
    /// The request target alone; beyond it: 414.
    std::size_t uri_bytes{std::size_t{8} * 1024};
    /// Header fields in one request; beyond it: 431.
    std::size_t header_fields{100};
    /// Ranges in one Range field, counted as sent; beyond it the whole file is sent with 200.
    std::size_t max_ranges{16};
    /// Request body read and discarded; beyond it: 413.
    std::uint64_t body_bytes{std::uint64_t{1024} * 1024};
    /// Open client connections over all threads; beyond it, accepting pauses.
    std::size_t max_connections{16384};
    /// After this many requests a keep-alive connection is closed, as nginx's keepalive_requests.
    std::size_t max_requests_per_connection{1000};
};

} // namespace hello_async
