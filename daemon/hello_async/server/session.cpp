#include "hello_async/server/session.hpp"

#include "hello_async/http/access_entry.hpp"
#include "hello_async/http/answer.hpp"
#include "hello_async/http/h2_session.hpp"
#include "hello_async/http/request_body.hpp"
#include "hello_async/http/request_head.hpp"
#include "hello_async/http/static_files.hpp"
#include "hello_async/server/arrival_read.hpp"
#include "hello_async/server/endpoint_text.hpp"
#include "hello_async/server/h2_link.hpp"
#include "hello_async/server/logging.hpp"
#include "hello_async/server/tls_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace hello_async {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

/// Bodies up to this size are read into memory and sent with the head in one system call;
/// larger ones go out with sendfile.
constexpr std::uint64_t inline_body_max = std::uint64_t{64} * 1024;

/// Bodies up to this size are copied behind the head and sent with send(): one buffer spares
/// the kernel sendmsg's message header and vector to copy in and check, about 0.15 µs of a
/// keep-alive exchange, which is more than the copy costs us.
constexpr std::size_t copied_body_max = 2048;

/// After an error response the client may still be sending; reading that for a moment lets our
/// response arrive before the close turns into a reset (nginx's lingering close).
constexpr std::chrono::seconds linger_time{2};
constexpr std::size_t linger_bytes_max = std::size_t{1024} * 1024;

/// What an idle connection reserves for its next request: most request heads fit, and a
/// larger one grows the buffer. Ten thousand waiting connections hold this much each.
constexpr std::size_t first_read_bytes = 1024;

using request_parser = http::request_parser<http::empty_body>;

using read_result = std::tuple<beast::error_code, std::size_t>;

/// Reads what the client sent, decrypted on a TLS connection.
net::awaitable<read_result> read_some(connection& conn, net::mutable_buffer into)
{
    if (conn.tls) {
        co_return co_await tls_read_some(conn, into);
    }
    co_return co_await conn.socket.async_read_some(into, use_tuple);
}

/// Whether the client's next bytes are here already, in the socket or decrypted in OpenSSL.
bool input_waiting(connection const& conn)
{
    beast::error_code ignored;
    return conn.socket.available(ignored) > 0 || tls_has_buffered(conn);
}

/// The site this thread answers with: the current one, looked up again only when a reload has
/// replaced it (the generation saves an atomic shared_ptr load per request). Kept per thread,
/// not per connection: a connection waiting for its next request holds no site.
std::shared_ptr<site const> const& thread_site(server_state const& state)
{
    struct cached_site
    {
        server_state const* owner{nullptr};
        std::uint64_t generation{0};
        std::shared_ptr<site const> current;
    };
    thread_local cached_site cached;
    auto const generation = state.site_generation();
    if (cached.owner != &state || cached.generation != generation || !cached.current) {
        cached.current = state.current_site();
        cached.generation = generation;
        cached.owner = &state;
    }
    return cached.current;
}

/// What a connection parked on a wait was woken by.
enum class wake_result : std::uint8_t
{
    none,      ///< not parked: a fresh connection, or the loop runs on
    ready,     ///< the socket is readable
    cancelled, ///< a drain cancelled the wait
    failed,    ///< closed by a timeout, or another error
};

struct sleeping_exchange;

/// A client connection and what outlives one run of its request loop. On the heap, so that a
/// connection waiting for its next request, or for its route's delay, is held by a plain wait
/// with no coroutine frame at all: what such a connection costs is this, its socket's reactor
/// state and the wait.
struct live_connection
{
    live_connection(client_socket socket,
                    std::shared_ptr<server_state> shared_state,
                    std::size_t io_thread,
                    std::string client,
                    std::shared_ptr<tls_context const> tls)
        : state{std::move(shared_state)}
        , conn{std::move(socket)}
        , peer{std::move(client)}
        , certificates{std::move(tls)}
        , thread{static_cast<std::uint16_t>(io_thread)}
    {
        state->registry(thread).insert(&conn);
    }
    live_connection(live_connection const&) = delete;
    live_connection& operator=(live_connection const&) = delete;
    live_connection(live_connection&&) = delete;
    live_connection& operator=(live_connection&&) = delete;
    ~live_connection();

    std::shared_ptr<server_state> state;
    connection conn;
    std::string peer;
    /// A TLS port's certificates, kept for as long as the connection (the SNI callback's).
    std::shared_ptr<tls_context const> certificates;
    beast::flat_buffer buffer;
    /// Set while an answer waits out its route's delay.
    std::unique_ptr<sleeping_exchange> sleeping;
    /// A plain connection's wait between requests.
    arrival_read<live_connection> waiting_read{*this};
    /// Requests answered, up to the most a counter this small holds: max_requests_per_connection
    /// is compared with it, and a connection that long-lived is no worse for it.
    std::uint32_t served{0};
    std::uint16_t thread; ///< server.threads is at most 1024
    wake_result wake{wake_result::none};
    /// The last response went out with MSG_MORE: the kernel holds it until the next one, or
    /// until release_corked().
    bool corked : 1 {false};
    /// Bytes were read without the reactor reporting them first (a fresh connection's, a read
    /// tried at once): the reactor may still list the socket for them, ahead of a file's change
    /// notice that came later, when the next request arrives (see watch_cached_files).
    bool read_past_reactor : 1 {true};

    client_socket& arrival_socket() { return conn.socket; }
    beast::flat_buffer& arrival_buffer() { return buffer; }

    void count_served()
    {
        if (served != std::numeric_limits<std::uint32_t>::max())
            ++served;
    }
};

void arrival_done(live_connection* host, arrival_outcome result, bool destroying);

std::string_view buffer_view(beast::flat_buffer const& buffer)
{
    return {static_cast<char const*>(buffer.data().data()), buffer.data().size()};
}

/// The start of what the client sent, for logging a request that could not be parsed.
std::string first_line_of(beast::flat_buffer const& buffer)
{
    auto const data = buffer_view(buffer);
    return std::string{data.substr(0, std::min(data.find("\r\n"), std::size_t{200}))};
}

unsigned status_for_read_error(beast::error_code const& ec)
{
    return ec == http::error::body_limit ? 413 : 400;
}

struct head_read_result
{
    std::size_t length{0}; ///< bytes of the head at the front of the buffer
    unsigned status{0};    ///< non-zero: answer with this and close
};

/// What the buffer holds of a request head: all of it, a refusal, or (nullopt) too little yet.
/// Refuses a head larger than `max_bytes` (414 when even the request line did not fit, else
/// 431) and one RFC 9112 forbids on the byte level (400).
std::optional<head_read_result> buffered_head(beast::flat_buffer& buffer, std::size_t max_bytes)
{
    auto data = buffer_view(buffer);
    // RFC 9112 §2.2: empty lines before a request line are ignored.
    std::size_t blank = 0;
    while (data.substr(blank).starts_with("\r\n"))
        blank += 2;
    if (blank > 0) {
        buffer.consume(blank);
        data = buffer_view(buffer);
    }
    if (auto const end = find_head_end(data.substr(0, max_bytes + 1));
        end != std::string_view::npos)
        return head_read_result{end, head_is_clean(data.substr(0, end)) ? 0U : 400U};
    if (data.size() > max_bytes) {
        auto const line_fits = data.substr(0, max_bytes).find('\n') != std::string_view::npos;
        return head_read_result{0, line_fits ? 431U : 414U};
    }
    return std::nullopt;
}

/// Reads until buffered_head() has an answer, within the deadline already set; true when the
/// client left or was too slow instead.
net::awaitable<bool> read_head(connection& conn, beast::flat_buffer& buffer, std::size_t max_bytes)
{
    while (!buffered_head(buffer, max_bytes)) {
        auto const room =
            std::min<std::size_t>(max_bytes + 1 - buffer.size(), std::size_t{16} * 1024);
        auto [ec, n] = co_await read_some(conn, buffer.prepare(room));
        if (ec)
            co_return true;
        buffer.commit(n);
    }
    co_return false;
}

/// A request read off the connection into the parser, or why none can be answered.
struct request_read
{
    unsigned refusal{0};     ///< non-zero: answer with this status and close
    bool client_left{false}; ///< closed or timed out: nobody to answer
    bool body_unread{false}; ///< Expect: 100-continue, answered before its body: close after
    head_check checked{};
    bool head_incomplete{false};                ///< read more, then take the request again
    std::optional<request_body> body_pending{}; ///< the rest of the body is still to come
};

/// 0 for a body read whole, 400 for a malformed one, 413 for one over the limit.
unsigned body_refusal(chunked_body::verdict result)
{
    switch (result) {
    case chunked_body::verdict::bad:
        return 400;
    case chunked_body::verdict::too_large:
        return 413;
    default:
        return 0;
    }
}

/// Reads the request body and throws it away: 0, or the status to refuse the request with
/// (400 malformed, 413 too large); nullopt when the client left.
net::awaitable<std::optional<unsigned>>
discard_body(connection& conn, beast::flat_buffer& buffer, request_body body, limits const& lim)
{
    for (;;) {
        auto const step = body.read(buffer_view(buffer));
        buffer.consume(step.consumed);
        if (step.result != chunked_body::verdict::more)
            co_return body_refusal(step.result);
        conn.deadline = steady::now() + lim.body_timeout;
        auto [ec, n] = co_await read_some(conn, buffer.prepare(std::size_t{16} * 1024));
        if (ec)
            co_return std::nullopt;
        buffer.commit(n);
    }
}

/// Whether the whole body is in the buffer already; consumes it if so.
bool body_already_here(beast::flat_buffer& buffer, request_body body)
{
    auto const step = body.read(buffer_view(buffer));
    if (step.result != chunked_body::verdict::done)
        return false;
    buffer.consume(step.consumed);
    return true;
}

/// RFC 9112 §2.3 for the versions Beast's parser refuses: HTTP/1.2 and up are rewritten to
/// HTTP/1.1 in the buffer, another major version is 505. 0 when the head may be parsed.
unsigned settle_version(beast::flat_buffer& buffer, std::size_t head_length)
{
    auto const head = buffer_view(buffer).substr(0, head_length);
    auto const line = split_request_line(head);
    if (!line)
        return 0;
    switch (judge_version(line->version)) {
    case version_verdict::as_is:
        return 0;
    case version_verdict::unsupported:
        return 505;
    case version_verdict::serve_as_1_1: {
        auto const minor = static_cast<std::size_t>(line->version.data() - head.data()) + 7;
        static_cast<char*>(buffer.data().data())[minor] = '1';
        return 0;
    }
    }
    return 0;
}

/// Takes a request from what the buffer holds, without waiting: its head parsed and checked
/// (RFC 9112), and its body thrown away as far as it has arrived. The result says when more
/// must be read first. On a refusal the buffer still starts with what the client sent.
request_read take_request(beast::flat_buffer& buffer, request_parser& parser, limits const& lim)
{
    auto const head = buffered_head(buffer, lim.header_bytes);
    if (!head)
        return request_read{.head_incomplete = true};
    if (head->status != 0)
        return request_read{.refusal = head->status};
    if (auto const refusal = settle_version(buffer, head->length); refusal != 0)
        return request_read{.refusal = refusal};
    // buffered_head() enforces header_bytes; Beast's own limit only backs it up.
    parser.header_limit(static_cast<std::uint32_t>(lim.header_bytes + 4));
    parser.body_limit(lim.body_bytes);
    beast::error_code ec;
    parser.put(net::buffer(buffer.data().data(), head->length), ec);
    if (!ec && !parser.is_header_done())
        ec = http::error::partial_message;
    if (ec)
        return request_read{.refusal = status_for_read_error(ec)};
    buffer.consume(head->length);
    // The head is checked before a body is read, so a doubtful one is never consumed.
    request_read out{.checked = check_request_head(parser.get().base(), lim)};
    out.refusal = out.checked.refusal;
    if (out.refusal != 0 || parser.is_done())
        return out;
    auto const length = parser.content_length();
    request_body body{length ? std::optional<std::uint64_t>{*length} : std::nullopt,
                      lim.header_bytes, lim.body_bytes};
    // RFC 9110 §10.1.1: no answer here depends on the body, so the client that waits for a 100
    // gets the final status at once, and the body is not waited for.
    if (out.checked.expects_continue) {
        out.body_unread = !body_already_here(buffer, body);
        return out;
    }
    auto const step = body.read(buffer_view(buffer));
    buffer.consume(step.consumed);
    if (step.result == chunked_body::verdict::more) {
        out.body_pending = body;
    } else {
        out.refusal = body_refusal(step.result);
    }
    return out;
}

/// Reads what take_request() found missing, within the deadlines of `lim`: the rest of the
/// head, then the body.
net::awaitable<request_read> read_rest_of_request(connection& conn,
                                                  beast::flat_buffer& buffer,
                                                  request_parser& parser,
                                                  limits const& lim,
                                                  request_read taken)
{
    if (taken.head_incomplete) {
        if (co_await read_head(conn, buffer, lim.header_bytes))
            co_return request_read{.client_left = true};
        taken = take_request(buffer, parser, lim);
    }
    if (!taken.body_pending)
        co_return taken;
    auto const discarded = co_await discard_body(conn, buffer, *taken.body_pending, lim);
    if (!discarded)
        co_return request_read{.client_left = true};
    taken.refusal = *discarded;
    taken.body_pending.reset();
    co_return taken;
}

/// Before a connection waits for its next request, on any protocol: marks it idle (a drain may
/// close it) unless it is fresh, whose first request is on the way and must be answered, and
/// sets the idle or header deadline. False when the server drains and nothing has arrived.
bool begin_waiting(connection& conn,
                   server_state const& state,
                   limits const& lim,
                   std::size_t served)
{
    conn.idle = served > 0;
    conn.deadline = steady::now() + (served == 0 ? lim.header_timeout : lim.keepalive_timeout);
    return served == 0 || !state.draining.load(std::memory_order_relaxed) || input_waiting(conn);
}

/// With nothing buffered, waits on a plain connection until the next request starts to
/// arrive: true when there is one to read. The wait counts against the idle timeout, so that the
/// header timeout runs from a request's first byte.
net::awaitable<bool> await_request(connection& conn,
                                   beast::flat_buffer& buffer,
                                   server_state const& state,
                                   limits const& lim,
                                   std::size_t served)
{
    if (!begin_waiting(conn, state, lim, served))
        co_return false;
    auto [ec, n] =
        co_await conn.socket.async_read_some(buffer.prepare(first_read_bytes), use_tuple);
    // A drain cancels idle reads; one whose request had already arrived goes on.
    if (ec == net::error::operation_aborted && conn.socket.is_open() && input_waiting(conn)) {
        std::tie(ec, n) =
            co_await conn.socket.async_read_some(buffer.prepare(first_read_bytes), use_tuple);
    }
    if (ec)
        co_return false;
    buffer.commit(n);
    conn.idle = false;
    co_return true;
}

/// What comes next on a connection between requests.
enum class arrival
{
    request, ///< its first bytes are in the buffer
    park,    ///< nothing yet: wait without a coroutine
    gone,    ///< closed, timed out, or the server drains
};

/// Reads what the plain socket holds now, without waiting.
tls_read_result plain_read_now(connection& conn, net::mutable_buffer into)
{
    ssize_t got = 0;
    do {
        got = ::recv(conn.socket.native_handle(), into.data(), into.size(), MSG_DONTWAIT);
    } while (got < 0 && errno == EINTR);
    if (got > 0)
        return {tls_read_status::data, static_cast<std::size_t>(got)};
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return {tls_read_status::would_block, 0};
    return {tls_read_status::closed, 0};
}

/// Between requests: read what has arrived, or park until the socket has more.
arrival next_arrival(live_connection& live, limits const& lim)
{
    auto& conn = live.conn;
    switch (std::exchange(live.wake, wake_result::none)) {
    case wake_result::failed:
        return arrival::gone;
    case wake_result::cancelled:
        // A drain cancels parked waits; a request that had already arrived goes on.
        if (!conn.socket.is_open() || !input_waiting(conn))
            return arrival::gone;
        break;
    case wake_result::ready:
        break;
    case wake_result::none:
        if (!begin_waiting(conn, *live.state, lim, live.served))
            return arrival::gone;
        // A fresh plain connection's request is usually here already; a next one rarely is.
        if (!tls_has_buffered(conn) && (conn.tls || live.served > 0)) {
            // OpenSSL has released its record buffers (SSL_MODE_RELEASE_BUFFERS): so does this.
            live.buffer.shrink_to_fit();
            return arrival::park;
        }
        break;
    }
    auto const into = live.buffer.prepare(first_read_bytes);
    auto const got = conn.tls ? tls_read_now(conn, into) : plain_read_now(conn, into);
    switch (got.status) {
    case tls_read_status::data:
        live.buffer.commit(got.bytes);
        conn.idle = false;
        // Read here, not reported by the reactor: as with a read tried at once (arrival_done).
        // A TLS connection reads every request here.
        file_notices_may_be_pending();
        live.read_past_reactor = true;
        return arrival::request;
    case tls_read_status::would_block:
        if (conn.tls) {
            // Part of a record: the request has begun, so the header timeout runs from here.
            conn.idle = false;
            conn.deadline = std::min(conn.deadline, steady::now() + lim.header_timeout);
        }
        live.buffer.shrink_to_fit();
        return arrival::park;
    case tls_read_status::closed:
        break;
    }
    return arrival::gone;
}

struct send_outcome
{
    bool ok{false};
    std::uint64_t bytes{0};
};

/// Sends `head` then `length` bytes of the file from `offset` with sendfile, waiting for
/// writability in between.
net::awaitable<send_outcome> send_with_sendfile(connection& conn,
                                                std::string const& head,
                                                int file,
                                                std::uint64_t offset,
                                                std::uint64_t length,
                                                std::chrono::milliseconds send_timeout)
{
    send_outcome out;
    conn.deadline = steady::now() + send_timeout;
    if (conn.tls) {
        out.bytes = co_await tls_send_file(conn, head, file, offset, length, send_timeout);
        out.ok = out.bytes == head.size() + length;
        co_return out;
    }
    auto [ec, n] = co_await net::async_write(conn.socket, net::buffer(head), use_tuple);
    out.bytes += n;
    if (ec)
        co_return out;
    auto position = static_cast<off_t>(offset);
    auto const end = static_cast<off_t>(offset + length);
    while (position < end) {
        conn.deadline = steady::now() + send_timeout;
        auto const chunk = static_cast<std::size_t>(std::min<off_t>(end - position, 1 << 20));
        auto const sent = ::sendfile(conn.socket.native_handle(), file, &position, chunk);
        if (sent > 0) {
            out.bytes += static_cast<std::uint64_t>(sent);
            continue;
        }
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent < 0 && errno == EAGAIN) {
            auto [wait_ec] = co_await conn.socket.async_wait(tcp::socket::wait_write, use_tuple);
            if (wait_ec)
                co_return out;
            continue;
        }
        // 0: the file shrank under us; we promised Content-Length, so the connection must end.
        co_return out;
    }
    out.ok = true;
    co_return out;
}

enum class write_progress
{
    done,
    failed,
    partial, ///< the rest is in `unsent` (and the file, for sendfile): finish_sending
};

/// A response after its first write: what the socket did not take at once, if anything.
struct pending_response
{
    unsigned status{0};
    bool keep_alive{false};
    bool must_close{false};
    write_progress progress{write_progress::failed};
    std::uint64_t written{0};
    bool corked{false}; ///< sent whole with MSG_MORE: a pipelined request's answer follows
    std::string unsent; ///< head and in-memory body bytes still to go; empty almost always
    unique_fd file;     ///< set when the body goes out with sendfile, as these parts
    std::vector<body_part> file_parts;
};

/// Where responses are built: one per thread, shared by all its connections.
struct response_scratch
{
    std::string head;
    std::string body;
};

/// Sends `head` then `body` in one system call, without waiting; returns the bytes the socket
/// took, or nullopt on an error other than a full socket. With `more`, the kernel keeps what
/// fits in one segment until the next send without it.
std::optional<std::uint64_t>
send_now(int socket, std::string_view head, std::string_view body, bool more)
{
    // iovec's pointer is not const, but sendmsg only reads through it.
    // NOLINTBEGIN(cppcoreguidelines-pro-type-const-cast)
    std::array<iovec, 2> parts{iovec{const_cast<char*>(head.data()), head.size()},
                               iovec{const_cast<char*>(body.data()), body.size()}};
    // NOLINTEND(cppcoreguidelines-pro-type-const-cast)
    msghdr message{};
    message.msg_iov = parts.data();
    message.msg_iovlen = parts.size();
    int const flags = MSG_DONTWAIT | MSG_NOSIGNAL | (more ? MSG_MORE : 0);
    ssize_t sent = 0;
    do {
        sent = body.empty() ? ::send(socket, head.data(), head.size(), flags)
                            : ::sendmsg(socket, &message, flags);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return std::nullopt;
    return static_cast<std::uint64_t>(std::max<ssize_t>(sent, 0));
}

/// Copies `length` bytes of the body's file (cached or open) from `offset` to the end of `out`.
bool append_region(response_body const& body,
                   std::uint64_t offset,
                   std::uint64_t length,
                   std::string& out)
{
    if (body.cached) {
        out.append(std::string_view{*body.cached}.substr(offset, length));
        return true;
    }
    return append_span(body.file.get(), offset, length, out);
}

/// The body's bytes, gathered into `scratch` unless they are at hand; nullopt when the file
/// could not be read.
std::optional<std::string_view> body_in_memory(response_body const& body, std::string& scratch)
{
    if (body.parts.empty() && body.cached)
        return std::string_view{*body.cached}.substr(body.offset, body.length);
    if (!body.cached && !body.file)
        return std::string_view{body.bytes};
    scratch.clear();
    if (body.parts.empty()) {
        if (!append_region(body, body.offset, body.length, scratch))
            return std::nullopt;
        return std::string_view{scratch};
    }
    for (auto const& part : body.parts) {
        scratch.append(part.text);
        if (!append_region(body, part.offset, part.length, scratch))
            return std::nullopt;
    }
    return std::string_view{scratch};
}

/// Hands a large file body to sendfile: the head goes out in front of the first part.
pending_response
leave_to_sendfile(response_body& body, std::string const& head, pending_response out)
{
    out.file = std::move(body.file);
    if (body.parts.empty()) {
        out.file_parts.push_back(body_part{head, body.offset, body.length});
    } else {
        out.file_parts = std::move(body.parts);
        out.file_parts.front().text.insert(0, head);
    }
    out.progress = write_progress::partial;
    return out;
}

/// Builds the response in the thread's scratch and writes what the socket takes right now: a
/// small response almost always goes whole, with no asynchronous operation and nothing kept
/// per connection. The scratch is filled and sent within this one plain function, so no other
/// connection of the thread can run, and overwrite it, in between: do not split it across a
/// co_await. What the socket did not take is copied out into the result.
///
/// `next_waiting`: another request is already buffered behind this one (pipelining). A small
/// response to keep alive then goes with MSG_MORE, so that the answers to a client's pipelined
/// requests leave in one segment rather than one each. A response the connection closes after
/// goes with MSG_MORE too: the close that follows puts its FIN in the same segment (see
/// carry_on), one trip through the kernel's and the client's TCP instead of two.
pending_response write_response_now(connection& conn, response_plan plan, bool next_waiting = false)
{
    thread_local response_scratch scratch;
    pending_response out;
    out.status = plan.head.status;
    out.keep_alive = plan.head.keep_alive;
    out.must_close = plan.must_close;
    scratch.head.clear();
    append_response_head(scratch.head, plan.head);
    auto& body = plan.body;
    std::string_view body_bytes;
    if (plan.send_body && body.file && body.length > inline_body_max) {
        return leave_to_sendfile(body, scratch.head, std::move(out));
    }
    if (plan.send_body) {
        auto const gathered = body_in_memory(body, scratch.body);
        if (!gathered)
            return out; // failed: nothing can be sent
        body_bytes = *gathered;
    }
    // One buffer: over TLS, one record and one write for a small response; in plain, send()
    // rather than sendmsg() for a body up to copied_body_max.
    if (conn.tls || body_bytes.size() <= copied_body_max) {
        scratch.head.append(body_bytes);
        body_bytes = {};
    }
    std::optional<std::uint64_t> sent;
    if (conn.tls) {
        sent = tls_write_now(conn, scratch.head);
    } else {
        out.corked = plan.head.keep_alive ? next_waiting && !plan.must_close : true;
        sent = send_now(conn.socket.native_handle(), scratch.head, body_bytes, out.corked);
    }
    if (!sent)
        return out;
    out.written = *sent;
    if (out.written == scratch.head.size() + body_bytes.size()) {
        out.progress = write_progress::done;
        return out;
    }
    out.corked = false; // the rest goes with async_write, which sends all
    auto const head_left = std::string_view{scratch.head}.substr(
        std::min<std::size_t>(out.written, scratch.head.size()));
    auto const body_done =
        out.written > scratch.head.size() ? out.written - scratch.head.size() : 0;
    out.unsent.assign(head_left);
    out.unsent.append(body_bytes.substr(body_done));
    out.progress = write_progress::partial;
    return out;
}

/// Writes what write_response_now left, waiting for the client within the send timeout.
net::awaitable<send_outcome> finish_sending(connection& conn,
                                            pending_response const& pending,
                                            std::chrono::milliseconds send_timeout)
{
    if (pending.file) {
        send_outcome total{true, 0};
        for (auto const& part : pending.file_parts) {
            auto const sent = co_await send_with_sendfile(conn, part.text, pending.file.get(),
                                                          part.offset, part.length, send_timeout);
            total.bytes += sent.bytes;
            if (!sent.ok) {
                total.ok = false;
                break;
            }
        }
        co_return total;
    }
    conn.deadline = steady::now() + send_timeout;
    if (conn.tls) {
        auto const n = co_await tls_write_all(conn, pending.unsent);
        co_return send_outcome{n == pending.unsent.size(), pending.written + n};
    }
    auto [ec, n] = co_await net::async_write(conn.socket, net::buffer(pending.unsent), use_tuple);
    co_return send_outcome{!ec, pending.written + n};
}

/// How one exchange ended.
struct exchange_outcome
{
    unsigned status{0};
    bool sent{false}; ///< the whole response went out
    std::uint64_t bytes{0};
    bool keep_alive{false};
    bool must_close{false};
};

exchange_outcome outcome_of(pending_response const& pending)
{
    return {pending.status, pending.progress == write_progress::done, pending.written,
            pending.keep_alive, pending.must_close};
}

/// An answer's first write, or the delay its route asks for before there is one.
struct first_write
{
    std::chrono::milliseconds delay{0};
    pending_response pending;
};

// The next three are plain functions on purpose: a response plan is a few hundred bytes, and
// it must never become part of a coroutine frame, of which ten thousand may wait at once.

/// Plans the answer to a request and writes what the socket takes.
first_write answer_now(connection& conn,
                       site const& site,
                       request_head const& request,
                       answer_terms terms,
                       bool next_waiting)
{
    auto plan = answer(site, request, terms);
    if (plan.delay.count() > 0)
        return {plan.delay, {}};
    return {std::chrono::milliseconds{0}, write_response_now(conn, std::move(plan), next_waiting)};
}

pending_response answer_after_wait(connection& conn,
                                   site const& site,
                                   request_head const& request,
                                   answer_terms terms)
{
    return write_response_now(conn, answer_after_delay(site, request, terms));
}

pending_response refuse_now(connection& conn, site const& site, unsigned status)
{
    return write_response_now(conn, answer_refusal(site, status));
}

/// Reads and drops what the client still sends, briefly, then closes (see linger_time).
net::awaitable<void> linger_close(connection& conn)
{
    tls_close_notify(conn);
    beast::error_code ignored;
    conn.socket.shutdown(tcp::socket::shutdown_send, ignored);
    conn.deadline = steady::now() + linger_time;
    std::array<char, 4096> scratch{};
    std::size_t total = 0;
    while (conn.socket.is_open() && total < linger_bytes_max) {
        auto [ec, n] = co_await conn.socket.async_read_some(net::buffer(scratch), use_tuple);
        if (ec)
            break;
        total += n;
    }
    conn.socket.close(ignored);
}

/// What the access log needs to know of one exchange.
struct exchange_record
{
    access_entry entry;
    std::string fallback_line; ///< when no request line could be parsed
    steady::time_point started;
};

void log_exchange(exchange_record& rec,
                  exchange_outcome const& outcome,
                  std::string const& peer,
                  connection const& conn,
                  log_overflow overflow)
{
    if (conn.tls) {
        auto const facts = tls_facts_of(conn);
        rec.entry.tls_protocol = facts.protocol;
        rec.entry.tls_cipher = facts.cipher;
        rec.entry.tls_sni = facts.sni;
    }
    rec.entry.status = outcome.status;
    rec.entry.bytes = outcome.bytes;
    rec.entry.duration =
        std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - rec.started);
    rec.entry.peer = peer;
    rec.entry.raw_line = rec.fallback_line;
    log_access(rec.entry, overflow);
}

/// The request line's parts for the log, as far as the parser got: a line the parser refused
/// is still logged by its parts when it has the shape of a request line.
void record_request(exchange_record& rec,
                    request_parser const& parser,
                    beast::flat_buffer const& buffer)
{
    if (!parser.is_header_done()) {
        auto const line = split_request_line(buffer_view(buffer));
        auto const version = line ? version_number(line->version) : std::nullopt;
        if (!version) {
            rec.fallback_line = first_line_of(buffer);
            return;
        }
        rec.entry.method = line->method;
        rec.entry.target = line->target;
        rec.entry.version = *version;
        return;
    }
    auto const& request = parser.get();
    rec.entry.method = request.method_string();
    rec.entry.target = request.target();
    rec.entry.version = request.version();
}

/// An answer waiting out its route's delay, with what answering and logging it need then.
struct sleeping_exchange
{
    steady::time_point until;
    std::shared_ptr<site const> answering_site; ///< the one the answer began with
    request_head request;
    authority host; ///< what terms.https_redirect_host points to, when set
    answer_terms terms;
    exchange_record rec;
    bool body_unread{false};
};

/// Lists the connection in its thread's registry until it ends, and counts it out then.
live_connection::~live_connection()
{
    state->registry(thread).erase(&conn);
    if (state->open_connections.fetch_sub(1, std::memory_order_relaxed) == 1) {
        state->all_closed_at.store(steady::now().time_since_epoch().count(),
                                   std::memory_order_relaxed);
    }
}

/// Closes the connection with nothing more to read: close() sends the FIN after the response.
void close_at_once(connection& conn)
{
    tls_close_notify(conn);
    beast::error_code ignored;
    conn.socket.close(ignored);
}

/// Closes the connection: at once when nothing unread is left that we know of, else after
/// lingering.
net::awaitable<void> close_connection(connection& conn, bool gently)
{
    if (!conn.socket.is_open())
        co_return;
    if (gently) {
        co_await linger_close(conn);
        co_return;
    }
    close_at_once(conn);
}

/// Logs failed handshakes, one entry each, but at most `burst` per `window` and thread: a scan
/// or a flood of broken clients must not flood the journal. What was left out is counted in
/// the first entry of a later window.
class handshake_failure_log
{
  public:
    void note(std::string const& peer, std::string const& reason)
    {
        auto const now = steady::now();
        if (now - window_start_ >= window) {
            if (left_out_ > 0) {
                spdlog::info("{} more failed TLS handshakes in the last {}s were not logged",
                             left_out_, window.count());
            }
            window_start_ = now;
            logged_ = 0;
            left_out_ = 0;
        }
        if (logged_ < burst) {
            ++logged_;
            spdlog::info("TLS handshake with {} failed: {}", peer, reason);
        } else {
            ++left_out_;
        }
    }

  private:
    static constexpr std::chrono::seconds window{10};
    static constexpr unsigned burst = 10;
    steady::time_point window_start_{};
    unsigned logged_{0};
    std::uint64_t left_out_{0};
};

/// How a connection to a TLS port began.
enum class tls_start
{
    ready,      ///< handshake done
    plain_http, ///< the client sent an HTTP request in the clear
    failed,     ///< logged where worth it; close
};

/// The first byte of every TLS connection: a handshake record.
constexpr unsigned char tls_handshake_record = 0x16;

/// Tells a plain HTTP request apart from TLS by its first byte (a request line starts with a
/// method's capital letter), then runs the handshake, all within the handshake timeout.
net::awaitable<tls_start> start_tls(connection& conn,
                                    tls_context const& context,
                                    std::chrono::milliseconds timeout,
                                    std::string const& peer)
{
    thread_local handshake_failure_log failures;
    conn.idle = false;
    conn.deadline = steady::now() + timeout;
    // OpenSSL reads and writes the descriptor itself. Asio makes a socket non-blocking only for
    // its own reads and writes, and a TLS connection has none: without this, a client that
    // stops in the middle of a record would stall the whole thread in read().
    beast::error_code ec;
    conn.socket.non_blocking(true, ec);
    if (ec)
        co_return tls_start::failed;
    unsigned char first = 0;
    for (;;) {
        auto const peeked = ::recv(conn.socket.native_handle(), &first, 1, MSG_PEEK | MSG_DONTWAIT);
        if (peeked > 0)
            break;
        if (peeked == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            co_return tls_start::failed;
        // Nothing yet: wait for the ClientHello's first bytes.
        std::tie(ec) = co_await conn.socket.async_wait(tcp::socket::wait_read, use_tuple);
        if (ec || !conn.socket.is_open())
            co_return tls_start::failed; // timed out before a byte came, or the server stops
    }
    if (first != tls_handshake_record) {
        if (first >= 'A' && first <= 'Z')
            co_return tls_start::plain_http;
        failures.note(peer, "not a TLS record");
        co_return tls_start::failed;
    }
    conn.tls = context.new_connection();
    if (!conn.tls)
        co_return tls_start::failed;
    auto const failure = co_await tls_handshake(conn);
    if (!failure.empty()) {
        failures.note(peer, failure);
        co_return tls_start::failed;
    }
    co_return tls_start::ready;
}

/// nginx's answer to plain HTTP on an HTTPS port: a short 400 in the clear, logged with the
/// request line the client sent, then a close.
net::awaitable<void> refuse_plain_http(connection& conn, site const& site, std::string const& peer)
{
    constexpr std::string_view body = "This port expects HTTPS.\n";
    response_head head;
    head.status = 400;
    head.keep_alive = false;
    head.content_type = "text/plain; charset=utf-8";
    head.content_length = body.size();
    std::string response;
    append_response_head(response, head);
    response.append(body);
    std::array<char, 256> start{};
    auto const peeked =
        ::recv(conn.socket.native_handle(), start.data(), start.size(), MSG_PEEK | MSG_DONTWAIT);
    auto const sent = send_now(conn.socket.native_handle(), response, {}, false);
    if (site.cfg.server.access_log) {
        exchange_record rec;
        rec.started = steady::now();
        auto const line =
            std::string_view{start.data(), static_cast<std::size_t>(std::max<ssize_t>(peeked, 0))};
        rec.fallback_line = std::string{line.substr(0, line.find("\r\n"))};
        log_exchange(rec, exchange_outcome{400, true, sent.value_or(0), false, true}, peer, conn,
                     site.cfg.server.access_log_overflow);
    }
    co_await linger_close(conn);
}

/// Starts TLS on a connection to a TLS port: true when requests may follow; otherwise the
/// connection is closed.
net::awaitable<bool>
begin_tls(connection& conn, tls_context const& context, site const& site, std::string const& peer)
{
    auto const start = co_await start_tls(conn, context, site.cfg.tls.handshake_timeout, peer);
    if (start == tls_start::ready)
        co_return true;
    if (start == tls_start::plain_http) {
        co_await refuse_plain_http(conn, site, peer);
    }
    co_await close_connection(conn, false);
    co_return false;
}

/// What the connection, not the request alone, decides about an answer: whether the
/// connection may carry another request, HSTS over TLS, and on a plain connection the
/// redirect to HTTPS when the server makes one.
answer_terms terms_for(connection const& conn,
                       server_state const& state,
                       site const& site,
                       request_read const& read,
                       request_parser::value_type const& request,
                       std::size_t served)
{
    answer_terms terms{request.keep_alive() && !read.body_unread &&
                           !state.draining.load(std::memory_order_relaxed) &&
                           served + 1 < site.cfg.limits.max_requests_per_connection,
                       request.version() == 10};
    auto const& checked = read.checked;
    if (conn.tls) {
        terms.strict_transport_security = site.cfg.tls.hsts;
    } else if (site.cfg.server.redirect_to_https && state.https_port != 0) {
        terms.https_redirect_host = &checked.host;
        terms.https_port = state.https_port;
    }
    return terms;
}

/// How a connection goes on after an exchange.
enum class after_exchange
{
    next_request,
    close,
    close_gently, ///< unread input may remain: linger before closing
    sleep,        ///< the answer waits out its route's delay: live_connection::sleeping
};

/// Sends what the kernel holds back for MSG_MORE: before anything the connection may wait for.
void release_corked(live_connection& live)
{
    if (!live.corked)
        return;
    live.corked = false;
    // Setting TCP_NODELAY, even again, pushes what is pending (tcp(7)).
    int const on = 1;
    ::setsockopt(live.conn.socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

/// Whether a whole request head is buffered: another exchange can begin without waiting.
bool next_head_buffered(beast::flat_buffer const& buffer)
{
    return buffer_view(buffer).find("\r\n\r\n") != std::string_view::npos;
}

/// An exchange that must wait before it can go on, made only then: what the coroutine that
/// waits needs, moved out of the plain functions that began the exchange.
struct unfinished_exchange
{
    enum class stage : std::uint8_t
    {
        head,     ///< the rest of the request head
        body,     ///< the rest of a body that is read and thrown away
        sending,  ///< room in the socket for the rest of the answer
        log_room, ///< room in the journal queue (access_log_overflow = "wait")
    };
    stage at{stage::head};
    bool body_unread{false};
    std::shared_ptr<site const> answering_site;
    exchange_record rec;
    std::string method; ///< what rec.entry's request line points to until stage::body sets it
    std::string target;
    request_parser::value_type request; ///< stage::body
    request_read read;                  ///< stage::body
    pending_response pending;           ///< stage::sending
    exchange_outcome outcome;           ///< stage::log_room
};

/// How far an exchange got without waiting: to its end, or to an unfinished_exchange.
struct exchange_step
{
    after_exchange next{after_exchange::close};
    std::unique_ptr<unfinished_exchange> unfinished;
};

exchange_step wait_for(unfinished_exchange::stage at,
                       std::shared_ptr<site const> const& current,
                       exchange_record&& rec)
{
    auto unfinished = std::make_unique<unfinished_exchange>();
    unfinished->at = at;
    unfinished->answering_site = current;
    // The log entry's request line points into a parser or request that is about to go.
    unfinished->method = rec.entry.method;
    unfinished->target = rec.entry.target;
    unfinished->rec = std::move(rec);
    unfinished->rec.entry.method = unfinished->method;
    unfinished->rec.entry.target = unfinished->target;
    return {after_exchange::close, std::move(unfinished)};
}

/// How the connection goes on once the exchange is logged.
after_exchange
next_after(live_connection const& live, exchange_outcome const& outcome, bool body_unread)
{
    if (!outcome.sent)
        return after_exchange::close;
    if (outcome.keep_alive)
        return after_exchange::next_request;
    bool const unread = outcome.must_close || body_unread || live.buffer.size() > 0;
    return unread ? after_exchange::close_gently : after_exchange::close;
}

/// The end of an exchange whose answer is out: the count, the log entry, and how the
/// connection goes on.
exchange_step conclude_sent(live_connection& live,
                            std::shared_ptr<site const> const& current,
                            exchange_record&& rec,
                            exchange_outcome const& outcome,
                            bool body_unread)
{
    auto const& server_cfg = current->cfg.server;
    live.state->requests_served.fetch_add(1, std::memory_order_relaxed);
    if (server_cfg.access_log) {
        log_exchange(rec, outcome, live.peer, live.conn, server_cfg.access_log_overflow);
        if (server_cfg.access_log_overflow == log_overflow::wait && !access_log_has_room()) {
            auto step = wait_for(unfinished_exchange::stage::log_room, current, std::move(rec));
            step.unfinished->outcome = outcome;
            step.unfinished->body_unread = body_unread;
            return step;
        }
    }
    return {next_after(live, outcome, body_unread), nullptr};
}

/// The end of every exchange once its answer's first write is done.
exchange_step conclude_exchange(live_connection& live,
                                std::shared_ptr<site const> const& current,
                                exchange_record&& rec,
                                pending_response&& pending,
                                bool body_unread)
{
    live.corked = pending.corked;
    // Almost always the response went whole, with nothing to wait for.
    if (pending.progress == write_progress::partial) {
        auto step = wait_for(unfinished_exchange::stage::sending, current, std::move(rec));
        step.unfinished->pending = std::move(pending);
        step.unfinished->body_unread = body_unread;
        return step;
    }
    return conclude_sent(live, current, std::move(rec), outcome_of(pending), body_unread);
}

/// Keeps a request whose route asks for a delay until it is over: the request head, and what
/// the answer and its log entry need.
void begin_sleeping(live_connection& live,
                    std::shared_ptr<site const> site,
                    std::chrono::milliseconds delay,
                    request_parser::value_type&& request,
                    request_read const& read,
                    answer_terms terms,
                    exchange_record rec)
{
    auto sleeper = std::make_unique<sleeping_exchange>();
    sleeper->until = steady::now() + delay;
    sleeper->answering_site = std::move(site);
    sleeper->request = std::move(request.base());
    sleeper->host = read.checked.host;
    if (terms.https_redirect_host != nullptr)
        terms.https_redirect_host = &sleeper->host;
    sleeper->terms = terms;
    sleeper->rec = std::move(rec);
    sleeper->rec.entry.method = sleeper->request.method_string();
    sleeper->rec.entry.target = sleeper->request.target();
    sleeper->body_unread = read.body_unread;
    live.sleeping = std::move(sleeper);
}

/// An exchange whose request is read: its answer, or the delay its route asks for
/// (after_exchange::sleep, with live.sleeping set).
exchange_step answer_request(live_connection& live,
                             std::shared_ptr<site const> const& current,
                             exchange_record&& rec,
                             request_parser::value_type& request,
                             request_read const& read)
{
    auto& conn = live.conn;
    auto const& site = *current;
    auto const terms = terms_for(conn, *live.state, site, read, request, live.served);
    auto first = read.refusal != 0 ? first_write{{}, refuse_now(conn, site, read.refusal)}
                                   : answer_now(conn, site, request.base(), terms,
                                                !conn.tls && !read.body_unread &&
                                                    next_head_buffered(live.buffer));
    if (first.delay.count() > 0) {
        release_corked(live);
        begin_sleeping(live, current, first.delay, std::move(request), read, terms, std::move(rec));
        return {after_exchange::sleep, nullptr};
    }
    return conclude_exchange(live, current, std::move(rec), std::move(first.pending),
                             read.body_unread);
}

/// One request and its answer, from its first buffered byte as far as it goes without
/// waiting: almost always to its log entry. A plain function, so that what an exchange needs
/// (the parser, the plan, the log record) is on the stack and gone when it returns; only an
/// exchange that must wait moves what it needs to the heap.
exchange_step exchange_without_waiting(live_connection& live,
                                       std::shared_ptr<site const> const& current)
{
    auto const& lim = current->cfg.limits;
    exchange_record rec;
    rec.started = steady::now();
    live.conn.deadline = rec.started + lim.header_timeout;
    request_parser parser;
    auto read = take_request(live.buffer, parser, lim);
    if (read.head_incomplete) {
        release_corked(live);
        return wait_for(unfinished_exchange::stage::head, current, std::move(rec));
    }
    if (read.body_pending) {
        release_corked(live);
        auto step = wait_for(unfinished_exchange::stage::body, current, std::move(rec));
        auto& unfinished = *step.unfinished;
        unfinished.request = parser.release();
        unfinished.rec.entry.method = unfinished.request.method_string();
        unfinished.rec.entry.target = unfinished.request.target();
        unfinished.rec.entry.version = unfinished.request.version();
        unfinished.read = std::move(read);
        return step;
    }
    record_request(rec, parser, live.buffer);
    return answer_request(live, current, std::move(rec), parser.get(), read);
}

/// The rest of an unfinished exchange's request head, then the exchange as far as it goes
/// without waiting again.
net::awaitable<exchange_step> finish_head(live_connection& live, unfinished_exchange& ex)
{
    request_parser parser;
    // A named value, not a temporary in the co_await: GCC 12 destroys such a temporary twice.
    request_read incomplete{.head_incomplete = true};
    auto const read = co_await read_rest_of_request(
        live.conn, live.buffer, parser, ex.answering_site->cfg.limits, std::move(incomplete));
    if (read.client_left)
        co_return exchange_step{after_exchange::close, nullptr};
    record_request(ex.rec, parser, live.buffer);
    co_return answer_request(live, ex.answering_site, std::move(ex.rec), parser.get(), read);
}

net::awaitable<exchange_step> finish_body(live_connection& live, unfinished_exchange& ex)
{
    auto const discarded = co_await discard_body(live.conn, live.buffer, *ex.read.body_pending,
                                                 ex.answering_site->cfg.limits);
    if (!discarded)
        co_return exchange_step{after_exchange::close, nullptr};
    ex.read.refusal = *discarded;
    ex.read.body_pending.reset();
    co_return answer_request(live, ex.answering_site, std::move(ex.rec), ex.request, ex.read);
}

net::awaitable<exchange_step> finish_answer(live_connection& live, unfinished_exchange& ex)
{
    auto outcome = outcome_of(ex.pending);
    auto const rest =
        co_await finish_sending(live.conn, ex.pending, ex.answering_site->cfg.limits.send_timeout);
    outcome.sent = rest.ok;
    outcome.bytes = rest.bytes;
    co_return conclude_sent(live, ex.answering_site, std::move(ex.rec), outcome, ex.body_unread);
}

/// Takes an unfinished exchange through its waits to its end.
net::awaitable<after_exchange> finish_exchange(live_connection& live,
                                               std::unique_ptr<unfinished_exchange> ex)
{
    using stage = unfinished_exchange::stage;
    for (;;) {
        if (ex->at == stage::log_room) {
            release_corked(live);
            co_await access_log_room();
            co_return next_after(live, ex->outcome, ex->body_unread);
        }
        // Statements, not a conditional expression: GCC 12 miscompiles co_await in the arms
        // of ?: (it ran more than one arm).
        exchange_step step;
        if (ex->at == stage::head) {
            step = co_await finish_head(live, *ex);
        } else if (ex->at == stage::body) {
            step = co_await finish_body(live, *ex);
        } else {
            step = co_await finish_answer(live, *ex);
        }
        if (!step.unfinished)
            co_return step.next;
        ex = std::move(step.unfinished);
    }
}

/// Answers the request whose delay is over, as far as it goes without waiting, unless the
/// connection was closed meanwhile.
exchange_step answer_after_sleeping(live_connection& live)
{
    auto const sleeper = std::move(live.sleeping);
    auto& conn = live.conn;
    if (!conn.socket.is_open())
        return {};
    // A drain that began during the delay still gets this answer, but no further one.
    if (live.state->draining.load(std::memory_order_relaxed))
        sleeper->terms.keep_alive = false;
    auto const& current = sleeper->answering_site;
    auto pending = answer_after_wait(conn, *current, sleeper->request, sleeper->terms);
    return conclude_exchange(live, current, std::move(sleeper->rec), std::move(pending),
                             sleeper->body_unread);
}

// GCC 12 inlines Asio's frame allocation (aligned_alloc) into these coroutines and then fails
// to pair it with Asio's own operator delete: a false -Wmismatched-new-delete.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

/// Whether a plain connection's first bytes are the HTTP/2 preface (h2c with prior knowledge,
/// RFC 9113 §3.3): reads until they are, or are not; nullopt when the client left first.
net::awaitable<std::optional<bool>> opens_with_h2_preface(connection& conn,
                                                          beast::flat_buffer& buffer)
{
    auto const preface = h2_client_preface();
    for (;;) {
        auto const data = buffer_view(buffer);
        if (data.size() >= preface.size())
            co_return data.starts_with(preface);
        if (!preface.starts_with(data))
            co_return false;
        auto [ec, n] = co_await read_some(conn, buffer.prepare(preface.size() - data.size()));
        if (ec)
            co_return std::nullopt;
        buffer.commit(n);
    }
}

/// Hands the connection to HTTP/2 with what it has read so far, and closes it afterwards.
net::awaitable<void> switch_to_h2(live_connection& live)
{
    std::string already_read{buffer_view(live.buffer)};
    live.buffer = {};
    bool const gently =
        co_await serve_h2(live.conn, live.state, live.thread, live.peer, std::move(already_read));
    co_await close_connection(live.conn, gently);
}

/// What a connection speaks.
enum class protocol
{
    http1,
    http2,
    gone, ///< it closed, timed out or failed its handshake first
};

/// What a fresh connection speaks: on a TLS port, what ALPN chose once the handshake is done;
/// on a plain port that takes h2c, whether its first bytes are the HTTP/2 preface.
net::awaitable<protocol> opening_protocol(live_connection& live, site const& site)
{
    auto& conn = live.conn;
    if (live.certificates) {
        if (!co_await begin_tls(conn, *live.certificates, site, live.peer))
            co_return protocol::gone;
        co_return tls_chose_h2(conn) ? protocol::http2 : protocol::http1;
    }
    if (!site.cfg.http2.cleartext)
        co_return protocol::http1;
    if (!co_await await_request(conn, live.buffer, *live.state, site.cfg.limits, 0))
        co_return protocol::gone;
    auto const h2 = co_await opens_with_h2_preface(conn, live.buffer);
    if (!h2)
        co_return protocol::gone;
    co_return *h2 ? protocol::http2 : protocol::http1;
}

void park(std::unique_ptr<live_connection> live);
void wait_out_delay(std::unique_ptr<live_connection> live);
void answer_after_delay(std::unique_ptr<live_connection> live);
void serve_at_once(std::unique_ptr<live_connection> live);
bool carry_on(std::unique_ptr<live_connection>& live, exchange_step& step);

/// Plain new and delete, to the operation's own size. Asio's default hands a handler a block it
/// recycles per thread, sized for the largest operation the thread has run (an accept): a parked
/// connection would hold one such block for as long as its client idles.
template <class T>
struct exact_allocator
{
    using value_type = T;
    exact_allocator() = default;
    template <class U>
    explicit(false) exact_allocator(exact_allocator<U> const& /*other*/) noexcept
    {}
    T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
    void deallocate(T* p, std::size_t n) { std::allocator<T>{}.deallocate(p, n); }
    friend bool operator==(exact_allocator /*a*/, exact_allocator /*b*/) { return true; }
};

/// What of a connection has to wait, in a coroutine: its opening (TLS handshake, the HTTP/2
/// preface), or an exchange serve_at_once() or answer_after_delay() began and could not finish
/// (`begun`). The requests that follow are served by serve_at_once() again.
// serve() and serve_at_once() hand a connection to each other, but serve_at_once() spawns
// serve() only for an exchange that must wait, and serve() begins it with an asynchronous wait:
// the stack unwinds between the two, a chain of tasks rather than recursion.
// NOLINTNEXTLINE(misc-no-recursion)
net::awaitable<void> serve(std::unique_ptr<live_connection> live,
                           std::unique_ptr<unfinished_exchange> begun)
{
    auto& conn = live->conn;
    if (begun) {
        auto const next = co_await finish_exchange(*live, std::move(begun));
        exchange_step finished{next, nullptr};
        if (!carry_on(live, finished))
            co_return;
    } else if (live->wake == wake_result::none) {
        // A fresh connection: a parked one comes back woken, its protocol long settled.
        switch (co_await opening_protocol(*live, *thread_site(*live->state))) {
        case protocol::http2:
            co_await switch_to_h2(*live);
            co_return;
        case protocol::gone:
            co_await close_connection(conn, false);
            co_return;
        case protocol::http1:
            break;
        }
    }
    serve_at_once(std::move(live));
}

constexpr log_failure<spdlog::level::err> log_session_failure{"session"};

net::awaitable<void> close_after_serving(std::unique_ptr<live_connection> live, bool gently)
{
    co_await close_connection(live->conn, gently);
}

void spawn_close(std::unique_ptr<live_connection> live, bool gently)
{
    // Pushed now: held until the close task ran, the answer would wait behind every other due.
    release_corked(*live);
    auto executor = live->conn.socket.get_executor();
    net::co_spawn(executor, close_after_serving(std::move(live), gently), log_session_failure);
}

/// Runs `serve` for a connection on its thread; an exception ends that connection only, and
/// is logged.
// NOLINTNEXTLINE(misc-no-recursion): a new task (see serve)
void spawn_serve(std::unique_ptr<live_connection> live,
                 std::unique_ptr<unfinished_exchange> begun = nullptr)
{
    auto executor = live->conn.socket.get_executor();
    net::co_spawn(executor, serve(std::move(live), std::move(begun)), log_session_failure);
}

/// Where a connection goes after an exchange that went as far as it could without waiting:
/// true when its next request is to be served on the spot; otherwise it was handed on (to
/// serve() to finish the exchange, to the delay queue, or to be closed).
// NOLINTNEXTLINE(misc-no-recursion): see serve
bool carry_on(std::unique_ptr<live_connection>& live, exchange_step& step)
{
    if (step.unfinished) {
        spawn_serve(std::move(live), std::move(step.unfinished));
        return false;
    }
    if (step.next == after_exchange::sleep) {
        wait_out_delay(std::move(live));
        return false;
    }
    live->count_served();
    if (step.next == after_exchange::close && live->corked) {
        // The answer waits in the kernel for this close, which sends it with the FIN.
        close_at_once(live->conn);
        live.reset();
        return false;
    }
    if (step.next != after_exchange::next_request) {
        spawn_close(std::move(live), step.next == after_exchange::close_gently);
        return false;
    }
    return true;
}

/// The request loop of one connection, run on the spot with no coroutine for as long as no
/// exchange has to wait: the usual keep-alive exchange reads a whole request, writes a whole
/// answer and parks again. Between requests, and during a route's delay, the connection parks
/// with no coroutine either; the first wait of an exchange hands it to serve().
// NOLINTNEXTLINE(misc-no-recursion): see serve
void serve_at_once(std::unique_ptr<live_connection> live)
{
    for (;;) {
        auto const& site = thread_site(*live->state);
        if (live->buffer.size() == 0) {
            switch (next_arrival(*live, site->cfg.limits)) {
            case arrival::park:
                release_corked(*live);
                park(std::move(live));
                return;
            case arrival::gone:
                spawn_close(std::move(live), false);
                return;
            case arrival::request:
                break;
            }
        }
        auto step = exchange_without_waiting(*live, site);
        if (!carry_on(live, step))
            return;
    }
}

/// The answer to a request whose route's delay is over, run on the spot from the delay queue,
/// with the close that usually follows: on a plain connection the close is what sends the
/// answer (see write_response_now).
// NOLINTNEXTLINE(misc-no-recursion): see serve
void answer_after_delay(std::unique_ptr<live_connection> live)
{
    auto step = answer_after_sleeping(*live);
    if (carry_on(live, step))
        serve_at_once(std::move(live));
}

/// A plain connection's waiting_read is over: its bytes are in the buffer, or it ends. It held
/// the connection meanwhile.
void arrival_done(live_connection* host, arrival_outcome result, bool destroying)
{
    std::unique_ptr<live_connection> live{host};
    if (destroying)
        return;
    switch (result) {
    case arrival_outcome::arrived_at_start:
    case arrival_outcome::arrived: {
        bool const at_start = result == arrival_outcome::arrived_at_start;
        if (live->read_past_reactor || at_start)
            file_notices_may_be_pending();
        live->read_past_reactor = at_start;
        live->conn.idle = false;
        // Called from the reactor: an exception must end this connection, not the thread.
        try {
            serve_at_once(std::move(live));
        } catch (...) {
            log_session_failure(std::current_exception());
        }
        return;
    }
    case arrival_outcome::cancelled:
        live->wake = wake_result::cancelled;
        break;
    case arrival_outcome::closed:
    case arrival_outcome::failed:
        live->wake = wake_result::failed;
        break;
    }
    spawn_serve(std::move(live));
}

/// Waits, with no coroutine, until the client writes, then runs the loop again.
void park(std::unique_ptr<live_connection> live)
{
    if (!live->conn.tls) {
        live.release()->waiting_read.start(); // arrival_done() takes it back
        return;
    }
    // TLS reads whole records through OpenSSL: the wait only says that the socket is readable.
    auto& socket = live->conn.socket;
    socket.async_wait(
        client_socket::wait_read,
        net::bind_allocator(
            exact_allocator<void>{}, [live = std::move(live)](beast::error_code const& ec) mutable {
                live->wake = !ec                                   ? wake_result::ready
                             : ec == net::error::operation_aborted ? wake_result::cancelled
                                                                   : wake_result::failed;
                spawn_serve(std::move(live));
            }));
}

/// Waits, with no coroutine, until the route's delay is over, then answers and runs the loop
/// again. No deadline runs meanwhile, and no read buffer is kept.
void wait_out_delay(std::unique_ptr<live_connection> live)
{
    live->conn.deadline = steady::time_point::max();
    if (live->buffer.size() == 0)
        live->buffer.shrink_to_fit();
    auto& delays = live->state->delays(live->thread);
    auto const until = live->sleeping->until;
    delays.async_wait_until(
        until, net::bind_allocator(exact_allocator<void>{},
                                   [live = std::move(live)](beast::error_code const&) mutable {
                                       // Run from the delay queue: an exception must end this
                                       // connection, not the thread.
                                       try {
                                           answer_after_delay(std::move(live));
                                       } catch (...) {
                                           log_session_failure(std::current_exception());
                                       }
                                   }));
}

} // namespace

void start_session(client_socket socket,
                   tcp::endpoint const& remote,
                   std::shared_ptr<server_state> state,
                   std::size_t thread,
                   std::shared_ptr<tls_context const> tls)
{
    spawn_serve(std::make_unique<live_connection>(std::move(socket), std::move(state), thread,
                                                  endpoint_text(remote), std::move(tls)));
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

} // namespace hello_async
