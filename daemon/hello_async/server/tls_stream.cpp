#include "hello_async/server/tls_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cerrno>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>
#include <vector>

namespace hello_async {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

/// A file is read in pieces of this size: four records' worth, so that the reads cost a quarter
/// of the writes (one per record) in system calls.
constexpr std::size_t file_read_bytes = std::size_t{64} * 1024;

/// What an OpenSSL call that did not succeed asks of us.
enum class tls_step
{
    wait_read,
    wait_write,
    closed, ///< close_notify from the client
    failed,
};

tls_step step_after(SSL* ssl, int result)
{
    switch (SSL_get_error(ssl, result)) {
    case SSL_ERROR_WANT_READ:
        return tls_step::wait_read;
    case SSL_ERROR_WANT_WRITE:
        return tls_step::wait_write;
    case SSL_ERROR_ZERO_RETURN:
        return tls_step::closed;
    default:
        return tls_step::failed;
    }
}

/// Waits until the socket is ready for what OpenSSL asked: false when the wait was cancelled
/// or the socket closed meanwhile.
net::awaitable<boost::system::error_code> wait_until_ready(connection& conn, tls_step step)
{
    auto const what =
        step == tls_step::wait_read ? tcp::socket::wait_read : tcp::socket::wait_write;
    auto [ec] = co_await conn.socket.async_wait(what, use_tuple);
    if (!ec && !conn.socket.is_open())
        ec = net::error::bad_descriptor;
    co_return ec;
}

/// Why a handshake failed, in the words an administrator can act on.
std::string handshake_failure(SSL* ssl, int result)
{
    auto const code = ERR_peek_last_error();
    auto const error = SSL_get_error(ssl, result);
    ERR_clear_error();
    if (code != 0) {
        char const* reason = ERR_reason_error_string(code);
        return reason != nullptr ? reason : "OpenSSL error " + std::to_string(code);
    }
    if (error == SSL_ERROR_SYSCALL)
        return errno != 0 ? errno_text(errno) : "client closed the connection";
    return "handshake failed";
}

} // namespace

net::awaitable<std::string> tls_handshake(connection& conn)
{
    auto* ssl = conn.tls.get();
    if (SSL_set_fd(ssl, conn.socket.native_handle()) != 1) {
        ERR_clear_error();
        co_return "cannot attach the socket";
    }
    SSL_set_accept_state(ssl);
    for (;;) {
        if (!conn.socket.is_open())
            co_return "timed out";
        errno = 0;
        int const result = SSL_do_handshake(ssl);
        if (result == 1)
            co_return std::string{};
        auto const step = step_after(ssl, result);
        if (step != tls_step::wait_read && step != tls_step::wait_write)
            co_return handshake_failure(ssl, result);
        if (auto ec = co_await wait_until_ready(conn, step))
            co_return ec == net::error::operation_aborted ? "timed out" : ec.message();
    }
}

net::awaitable<std::tuple<boost::system::error_code, std::size_t>>
tls_read_some(connection& conn, net::mutable_buffer into)
{
    auto* ssl = conn.tls.get();
    for (;;) {
        if (!conn.socket.is_open())
            co_return std::tuple{net::error::bad_descriptor, std::size_t{0}};
        std::size_t n = 0;
        int const result = SSL_read_ex(ssl, into.data(), into.size(), &n);
        if (result == 1)
            co_return std::tuple{boost::system::error_code{}, n};
        auto const step = step_after(ssl, result);
        if (step == tls_step::closed)
            co_return std::tuple{net::error::eof, std::size_t{0}};
        if (step == tls_step::failed) {
            ERR_clear_error();
            co_return std::tuple{net::error::connection_reset, std::size_t{0}};
        }
        if (auto ec = co_await wait_until_ready(conn, step))
            co_return std::tuple{ec, std::size_t{0}};
    }
}

tls_read_result tls_read_now(connection& conn, net::mutable_buffer into)
{
    if (!conn.socket.is_open())
        return {};
    std::size_t n = 0;
    int const result = SSL_read_ex(conn.tls.get(), into.data(), into.size(), &n);
    if (result == 1)
        return {tls_read_status::data, n};
    // Between requests OpenSSL asks to write only to answer a KeyUpdate into a full socket
    // buffer, which an idle connection does not have: that client is given up on.
    if (step_after(conn.tls.get(), result) == tls_step::wait_read)
        return {tls_read_status::would_block, 0};
    ERR_clear_error();
    return {};
}

std::optional<std::uint64_t> tls_write_now(connection& conn, std::string_view data)
{
    if (!conn.socket.is_open())
        return std::nullopt;
    auto* ssl = conn.tls.get();
    std::uint64_t total = 0;
    while (total < data.size()) {
        std::size_t n = 0;
        int const result = SSL_write_ex(ssl, data.data() + total, data.size() - total, &n);
        if (result == 1) {
            total += n;
            continue;
        }
        auto const step = step_after(ssl, result);
        if (step == tls_step::wait_write || step == tls_step::wait_read)
            break;
        ERR_clear_error();
        return std::nullopt;
    }
    return total;
}

net::awaitable<std::uint64_t> tls_write_all(connection& conn, std::string_view data)
{
    std::uint64_t total = 0;
    for (;;) {
        auto const written = tls_write_now(conn, data.substr(total));
        if (!written)
            co_return total;
        total += *written;
        if (total == data.size())
            co_return total;
        // SSL_write asks for readability only while a handshake message is due; otherwise the
        // socket is full.
        auto const wants_read = SSL_want_read(conn.tls.get()) != 0;
        if (co_await wait_until_ready(conn,
                                      wants_read ? tls_step::wait_read : tls_step::wait_write))
            co_return total;
    }
}

bool tls_kernel_sends(connection const& conn)
{
    return BIO_get_ktls_send(SSL_get_wbio(conn.tls.get())) != 0;
}

net::awaitable<std::uint64_t> tls_send_file(connection& conn,
                                            std::string_view head,
                                            int file,
                                            std::uint64_t offset,
                                            std::uint64_t length,
                                            std::chrono::milliseconds send_timeout)
{
    std::uint64_t sent = 0;
    if (tls_kernel_sends(conn)) {
        auto const head_sent = co_await tls_write_all(conn, head);
        if (head_sent < head.size())
            co_return head_sent;
        while (sent < length && conn.socket.is_open()) {
            conn.deadline = steady::now() + send_timeout;
            auto const chunk =
                static_cast<std::size_t>(std::min<std::uint64_t>(length - sent, 1 << 20));
            auto const n =
                SSL_sendfile(conn.tls.get(), file, static_cast<off_t>(offset + sent), chunk, 0);
            if (n > 0) {
                sent += static_cast<std::uint64_t>(n);
                continue;
            }
            auto const step = step_after(conn.tls.get(), static_cast<int>(n));
            if (step != tls_step::wait_write && step != tls_step::wait_read) {
                ERR_clear_error();
                co_return head_sent + sent;
            }
            if (co_await wait_until_ready(conn, step))
                co_return head_sent + sent;
        }
        co_return head_sent + sent;
    }
    if (length == 0) { // the closing delimiter of a multipart body
        co_return co_await tls_write_all(conn, head);
    }
    // Only while a large file is on its way: an idle connection holds no such buffer. The head
    // leads the first piece and shares its record.
    std::vector<char> buffer(head.size() + file_read_bytes);
    std::copy(head.begin(), head.end(), buffer.begin());
    std::size_t filled = head.size();
    std::uint64_t total = 0;
    while (sent < length) {
        conn.deadline = steady::now() + send_timeout;
        auto const want =
            static_cast<std::size_t>(std::min<std::uint64_t>(length - sent, file_read_bytes));
        auto const n =
            ::pread(file, buffer.data() + filled, want, static_cast<off_t>(offset + sent));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            co_return total; // the file shrank: Content-Length cannot be kept, so the caller closes
        sent += static_cast<std::uint64_t>(n);
        auto const piece = std::string_view{buffer.data(), filled + static_cast<std::size_t>(n)};
        auto const written = co_await tls_write_all(conn, piece);
        total += written;
        if (written < piece.size())
            co_return total;
        filled = 0;
    }
    co_return total;
}

void tls_close_notify(connection& conn)
{
    if (!conn.tls || !conn.socket.is_open() || SSL_is_init_finished(conn.tls.get()) == 0)
        return;
    // One attempt, without waiting for the client's reply: HTTP needs no more (RFC 9110 §9.8
    // asks only that the server send it).
    if (SSL_shutdown(conn.tls.get()) < 0)
        ERR_clear_error();
}

bool tls_has_buffered(connection const& conn)
{
    return conn.tls && SSL_has_pending(conn.tls.get()) != 0;
}

bool tls_chose_h2(connection const& conn)
{
    unsigned char const* protocol = nullptr;
    unsigned length = 0;
    SSL_get0_alpn_selected(conn.tls.get(), &protocol, &length);
    return length == 2 && protocol[0] == 'h' && protocol[1] == '2';
}

tls_facts tls_facts_of(connection const& conn)
{
    auto* ssl = conn.tls.get();
    char const* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    return {SSL_get_version(ssl), SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)),
            sni != nullptr ? std::string_view{sni} : std::string_view{}};
}

} // namespace hello_async
