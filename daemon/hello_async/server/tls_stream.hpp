#pragma once

#include "hello_async/server/connection_registry.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

namespace hello_async {

/// TLS on a connection's own non-blocking socket, as nginx does it: OpenSSL reads and writes
/// the descriptor itself, and Asio only waits for readiness when OpenSSL asks for it
/// (SSL_ERROR_WANT_READ / WANT_WRITE). No memory BIO pair: no copy of every byte, no buffers
/// held while idle (SSL_MODE_RELEASE_BUFFERS), and kernel TLS with SSL_sendfile stays possible.
///
/// Every function checks that the socket is still open before OpenSSL touches it: the deadline
/// sweep may have closed it during a wait, and its descriptor number may belong to another
/// connection by then.

/// Binds `conn.tls` to the socket and runs the server handshake. Empty on success, else why it
/// failed (OpenSSL's reason, "timed out", "client closed the connection").
[[nodiscard]] boost::asio::awaitable<std::string> tls_handshake(connection& conn);

/// Reads decrypted bytes: eof when the client sent close_notify or closed.
[[nodiscard]] boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
tls_read_some(connection& conn, boost::asio::mutable_buffer into);

/// What a read that does not wait found.
enum class tls_read_status
{
    data,
    would_block, ///< nothing decrypted yet: wait until the socket is readable
    closed,      ///< close_notify, EOF, an error, or OpenSSL asking to write first
};
struct tls_read_result
{
    tls_read_status status{tls_read_status::closed};
    std::size_t bytes{0};
};

/// Reads decrypted bytes that are there now, without waiting.
[[nodiscard]] tls_read_result tls_read_now(connection& conn, boost::asio::mutable_buffer into);

/// Writes what the socket takes now, without waiting: the bytes OpenSSL accepted, or nullopt
/// on an error. What is left must be written again from its first byte (OpenSSL may hold part
/// of it in a record already).
[[nodiscard]] std::optional<std::uint64_t> tls_write_now(connection& conn, std::string_view data);

/// Writes all of `data`, waiting for the client: the bytes accepted.
[[nodiscard]] boost::asio::awaitable<std::uint64_t> tls_write_all(connection& conn,
                                                                  std::string_view data);

/// Writes `head`, then `length` bytes of `file` from `offset`: with SSL_sendfile when the
/// kernel encrypts (kernel TLS), else read 64 KiB at a time and encrypted in records, the head
/// in front of the first piece. Moves the deadline by `send_timeout` on every step; returns
/// the bytes sent, the head's included.
[[nodiscard]] boost::asio::awaitable<std::uint64_t>
tls_send_file(connection& conn,
              std::string_view head,
              int file,
              std::uint64_t offset,
              std::uint64_t length,
              std::chrono::milliseconds send_timeout);

/// Sends close_notify if the connection can still take it, without waiting.
void tls_close_notify(connection& conn);

/// Whether the kernel encrypts what this connection sends (kernel TLS).
[[nodiscard]] bool tls_kernel_sends(connection const& conn);

/// Decrypted bytes OpenSSL holds that the next read returns at once.
[[nodiscard]] bool tls_has_buffered(connection const& conn);

/// Whether the handshake agreed on HTTP/2 (ALPN "h2").
[[nodiscard]] bool tls_chose_h2(connection const& conn);

/// What the access log records of a TLS connection.
struct tls_facts
{
    std::string_view protocol; ///< "TLSv1.3"
    std::string_view cipher;   ///< "TLS_AES_128_GCM_SHA256"
    std::string_view sni;      ///< empty when the client sent none
};
[[nodiscard]] tls_facts tls_facts_of(connection const& conn);

} // namespace hello_async
