#include "hello_async/server/session.hpp"

#include "hello_async/http/access_entry.hpp"
#include "hello_async/http/answer.hpp"
#include "hello_async/http/request_head.hpp"
#include "hello_async/http/static_files.hpp"
#include "hello_async/server/endpoint_text.hpp"
#include "hello_async/server/logging.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <array>
#include <cerrno>
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

/// Bodies up to this size are read into memory and sent with the head in one writev; larger
/// ones go out with sendfile.
constexpr std::uint64_t inline_body_max = std::uint64_t{64} * 1024;

/// After an error response the client may still be sending; reading that for a moment lets our
/// response arrive before the close turns into a reset (nginx's lingering close).
constexpr std::chrono::seconds linger_time{2};
constexpr std::size_t linger_bytes_max = std::size_t{1024} * 1024;

/// What an idle connection reserves for its next request: most request heads fit, and a
/// larger one grows the buffer. Ten thousand waiting connections hold this much each.
constexpr std::size_t first_read_bytes = 1024;

/// A request body nobody wants: the parser counts and frames it (Content-Length or chunked) and
/// enforces body_limit, and the bytes go nowhere.
struct discard_body
{
    struct value_type
    {
    };

    class reader
    {
      public:
        template <bool IsRequest, class Fields>
        reader(http::header<IsRequest, Fields>& /*header*/, value_type& /*body*/)
        {}
        // Beast's BodyReader concept calls these on an instance.
        // NOLINTNEXTLINE(readability-convert-member-functions-to-static)
        void init(boost::optional<std::uint64_t> const& /*length*/, beast::error_code& ec)
        {
            ec = {};
        }
        template <class ConstBufferSequence>
        std::size_t put(ConstBufferSequence const& buffers, beast::error_code& ec)
        {
            ec = {};
            return net::buffer_size(buffers);
        }
        // NOLINTNEXTLINE(readability-convert-member-functions-to-static)
        void finish(beast::error_code& ec) { ec = {}; }
    };
};

using request_parser = http::request_parser<discard_body>;

/// Counts the connection and lists it in its thread's registry for as long as it lives.
class connection_scope
{
  public:
    connection_scope(server_state& state, connection_registry& registry, connection& conn)
        : state_{state}
        , registry_{registry}
        , conn_{conn}
    {
        registry_.insert(&conn_);
    }
    connection_scope(connection_scope const&) = delete;
    connection_scope& operator=(connection_scope const&) = delete;
    connection_scope(connection_scope&&) = delete;
    connection_scope& operator=(connection_scope&&) = delete;
    ~connection_scope()
    {
        registry_.erase(&conn_);
        state_.open_connections.fetch_sub(1, std::memory_order_relaxed);
    }

  private:
    server_state& state_;
    connection_registry& registry_;
    connection& conn_;
};

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
    bool closed{false};    ///< the client left or timed out: nobody to answer
};

/// Reads until the buffer holds a whole request head, within the deadline already set. Refuses
/// a head larger than `max_bytes` (414 when even the request line did not fit, else 431) and
/// one RFC 9112 forbids on the byte level (400).
net::awaitable<head_read_result>
read_head(connection& conn, beast::flat_buffer& buffer, std::size_t max_bytes)
{
    head_read_result out;
    for (;;) {
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
            end != std::string_view::npos) {
            out.length = end;
            if (!head_is_clean(data.substr(0, end)))
                out.status = 400;
            co_return out;
        }
        if (data.size() > max_bytes) {
            out.status = data.substr(0, max_bytes).find('\n') == std::string_view::npos ? 414 : 431;
            co_return out;
        }
        auto const room =
            std::min<std::size_t>(max_bytes + 1 - data.size(), std::size_t{16} * 1024);
        auto [ec, n] = co_await conn.socket.async_read_some(buffer.prepare(room), use_tuple);
        if (ec) {
            out.closed = true;
            co_return out;
        }
        buffer.commit(n);
    }
}

/// A request read off the connection into the parser, or why none can be answered.
struct request_read
{
    unsigned refusal{0};     ///< non-zero: answer with this status and close
    bool client_left{false}; ///< closed or timed out: nobody to answer
};

/// Reads one request head, checks its framing, and reads (and drops) its body, within the
/// deadlines of `lim`. On a refusal the buffer still starts with what the client sent.
net::awaitable<request_read> read_request(connection& conn,
                                          beast::flat_buffer& buffer,
                                          request_parser& parser,
                                          limits const& lim)
{
    // read_head enforces header_bytes; Beast's own limit only backs it up.
    parser.header_limit(static_cast<std::uint32_t>(lim.header_bytes + 4));
    parser.body_limit(lim.body_bytes);
    auto const head = co_await read_head(conn, buffer, lim.header_bytes);
    if (head.closed)
        co_return request_read{0, true};
    if (head.status != 0)
        co_return request_read{head.status, false};
    beast::error_code ec;
    parser.put(net::buffer(buffer.data().data(), head.length), ec);
    if (!ec && !parser.is_header_done())
        ec = http::error::partial_message;
    if (ec)
        co_return request_read{status_for_read_error(ec), false};
    buffer.consume(head.length);
    // Framing is checked before a body is read, so a doubtful one is never consumed.
    if (auto const problem = framing_problem_of(parser.get().base(), lim))
        co_return request_read{*problem, false};
    if (parser.is_done())
        co_return request_read{};
    conn.deadline = steady::now() + lim.body_timeout;
    std::tie(ec, std::ignore) = co_await http::async_read(conn.socket, buffer, parser, use_tuple);
    if (ec && !conn.socket.is_open())
        co_return request_read{0, true};
    co_return request_read{ec ? status_for_read_error(ec) : 0U, false};
}

/// Waits until the next request starts to arrive (or is already buffered, pipelined): true
/// when there is one to read. The wait counts against the idle timeout, so that the header
/// timeout runs from a request's first byte.
net::awaitable<bool> await_request(connection& conn,
                                   beast::flat_buffer& buffer,
                                   server_state const& state,
                                   limits const& lim,
                                   std::size_t served)
{
    if (buffer.size() > 0)
        co_return true;
    // A fresh connection is not idle: its first request is on the way and must be answered.
    conn.idle = served > 0;
    conn.deadline = steady::now() + (served == 0 ? lim.header_timeout : lim.keepalive_timeout);
    beast::error_code ignored;
    if (served > 0 && state.draining.load(std::memory_order_relaxed) &&
        conn.socket.available(ignored) == 0)
        co_return false;
    auto [ec, n] =
        co_await conn.socket.async_read_some(buffer.prepare(first_read_bytes), use_tuple);
    // A drain cancels idle reads; one whose request had already arrived goes on.
    if (ec == net::error::operation_aborted && conn.socket.is_open() &&
        conn.socket.available(ignored) > 0) {
        std::tie(ec, n) =
            co_await conn.socket.async_read_some(buffer.prepare(first_read_bytes), use_tuple);
    }
    if (ec)
        co_return false;
    buffer.commit(n);
    conn.idle = false;
    co_return true;
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
    std::string unsent; ///< head and in-memory body bytes still to go; empty almost always
    unique_fd file;     ///< set when the body goes out with sendfile
    std::uint64_t offset{0};
    std::uint64_t length{0};
};

/// Where responses are built: one per thread, shared by all its connections.
struct response_scratch
{
    std::string head;
    std::string body;
};

/// Sends `head` then `body` in one sendmsg, without waiting; returns the bytes the socket took,
/// or nullopt on an error other than a full socket.
std::optional<std::uint64_t> send_now(int socket, std::string_view head, std::string_view body)
{
    // iovec's pointer is not const, but sendmsg only reads through it.
    // NOLINTBEGIN(cppcoreguidelines-pro-type-const-cast)
    std::array<iovec, 2> parts{iovec{const_cast<char*>(head.data()), head.size()},
                               iovec{const_cast<char*>(body.data()), body.size()}};
    // NOLINTEND(cppcoreguidelines-pro-type-const-cast)
    msghdr message{};
    message.msg_iov = parts.data();
    message.msg_iovlen = parts.size();
    ssize_t sent = 0;
    do {
        sent = ::sendmsg(socket, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return std::nullopt;
    return static_cast<std::uint64_t>(std::max<ssize_t>(sent, 0));
}

/// Builds the response in the thread's scratch and writes what the socket takes right now: a
/// small response almost always goes whole, with no asynchronous operation and nothing kept
/// per connection. The scratch is filled and sent within this one plain function, so no other
/// connection of the thread can run, and overwrite it, in between: do not split it across a
/// co_await. What the socket did not take is copied out into the result.
pending_response write_response_now(connection& conn, response_plan plan)
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
    if (plan.send_body && body.cached) {
        body_bytes = std::string_view{*body.cached}.substr(body.offset, body.length);
    } else if (plan.send_body && body.file && body.length > inline_body_max) {
        out.file = std::move(body.file); // sendfile's path writes the head itself
        out.offset = body.offset;
        out.length = body.length;
        out.unsent = scratch.head;
        out.progress = write_progress::partial;
        return out;
    } else if (plan.send_body && body.file) {
        if (!read_span(body.file.get(), body.offset, body.length, scratch.body))
            return out; // failed: nothing can be sent
        body_bytes = scratch.body;
    } else if (plan.send_body) {
        body_bytes = body.bytes;
    }
    auto const sent = send_now(conn.socket.native_handle(), scratch.head, body_bytes);
    if (!sent)
        return out;
    out.written = *sent;
    if (out.written == scratch.head.size() + body_bytes.size()) {
        out.progress = write_progress::done;
        return out;
    }
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
        co_return co_await send_with_sendfile(conn, pending.unsent, pending.file.get(),
                                              pending.offset, pending.length, send_timeout);
    }
    conn.deadline = steady::now() + send_timeout;
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

/// Sends the response in `plan` whole, within the send timeout.
net::awaitable<exchange_outcome>
respond(connection& conn, response_plan plan, std::chrono::milliseconds send_timeout)
{
    auto pending = write_response_now(conn, std::move(plan));
    exchange_outcome out{pending.status, pending.progress == write_progress::done, pending.written,
                         pending.keep_alive, pending.must_close};
    if (pending.progress == write_progress::partial) {
        auto const rest = co_await finish_sending(conn, pending, send_timeout);
        out.sent = rest.ok;
        out.bytes = rest.bytes;
    }
    co_return out;
}

/// Answers a parsed request: plan, wait out the route's delay if it has one, plan again, send.
/// nullopt when the client left during the delay.
net::awaitable<std::optional<exchange_outcome>> answer_request(connection& conn,
                                                               beast::flat_buffer& buffer,
                                                               delay_queue& delays,
                                                               server_state const& state,
                                                               site const& site,
                                                               request_head const& request,
                                                               answer_terms terms)
{
    auto const send_timeout = site.cfg.limits.send_timeout;
    auto plan = answer(site, request, terms);
    if (plan.delay.count() == 0) {
        co_return co_await respond(conn, std::move(plan), send_timeout);
    }
    auto const wake_at = steady::now() + plan.delay;
    plan = {};
    conn.deadline = steady::time_point::max();
    if (buffer.size() == 0)
        buffer.shrink_to_fit(); // nor a read buffer: the next read allocates again
    auto [ec] = co_await delays.async_wait_until(wake_at, use_tuple);
    if (ec || !conn.socket.is_open())
        co_return std::nullopt;
    // A drain that began during the delay still gets this answer, but no further one.
    if (state.draining.load(std::memory_order_relaxed))
        terms.keep_alive = false;
    co_return co_await respond(conn, answer_after_delay(site, request, terms), send_timeout);
}

/// Reads and drops what the client still sends, briefly, then closes (see linger_time).
net::awaitable<void> linger_close(connection& conn)
{
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

void log_exchange(exchange_record& rec, exchange_outcome const& outcome, std::string const& peer)
{
    rec.entry.status = outcome.status;
    rec.entry.bytes = outcome.bytes;
    rec.entry.duration =
        std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - rec.started);
    rec.entry.peer = peer;
    rec.entry.raw_line = rec.fallback_line;
    log_access(rec.entry);
}

/// The request line's parts for the log, as far as the parser got.
void record_request(exchange_record& rec,
                    request_parser const& parser,
                    beast::flat_buffer const& buffer)
{
    if (!parser.is_header_done()) {
        rec.fallback_line = first_line_of(buffer);
        return;
    }
    auto const& request = parser.get();
    rec.entry.method = request.method_string();
    rec.entry.target = request.target();
    rec.entry.version = request.version();
}

/// The site a connection answers with: the current one, looked up again only when a reload has
/// replaced it (the generation saves an atomic shared_ptr load per request).
class site_view
{
  public:
    explicit site_view(server_state const& state)
        : state_{state}
        , site_{state.current_site()}
        , generation_{state.site_generation()}
    {}

    void refresh()
    {
        if (auto const now = state_.site_generation(); now != generation_) {
            site_ = state_.current_site();
            generation_ = now;
        }
    }

    site const& operator*() const { return *site_; }
    site const* operator->() const { return site_.get(); }

  private:
    server_state const& state_;
    std::shared_ptr<site const> site_;
    std::uint64_t generation_;
};

/// Closes the connection: at once when nothing unread is left that we know of (close() alone
/// sends the FIN after the response), else after lingering.
net::awaitable<void> close_connection(connection& conn, bool gently)
{
    if (!conn.socket.is_open())
        co_return;
    if (gently) {
        co_await linger_close(conn);
        co_return;
    }
    beast::error_code ignored;
    conn.socket.close(ignored);
}

} // namespace

// GCC 12 inlines Asio's frame allocation (aligned_alloc) into this coroutine and then fails to
// pair it with Asio's own operator delete: a false -Wmismatched-new-delete.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

/// The request loop of one connection: one coroutine frame, alive as long as the connection.
net::awaitable<void> run_session(tcp::socket socket,
                                 tcp::endpoint remote,
                                 std::shared_ptr<server_state> shared_state,
                                 std::size_t thread)
{
    auto& state = *shared_state;
    connection conn{std::move(socket)};
    connection_scope const scope{state, state.registry(thread), conn};
    site_view site{state};
    std::string const peer = endpoint_text(remote);
    beast::flat_buffer buffer;
    bool close_gently = false; // unread input may remain: linger before closing

    for (std::size_t served = 0;; ++served) {
        if (!co_await await_request(conn, buffer, state, site->cfg.limits, served))
            break;
        site.refresh();
        auto const& lim = site->cfg.limits;
        exchange_record rec;
        rec.started = steady::now();
        conn.deadline = rec.started + lim.header_timeout;
        request_parser parser;
        auto const read = co_await read_request(conn, buffer, parser, lim);
        if (read.client_left)
            break;
        record_request(rec, parser, buffer);
        std::optional<exchange_outcome> outcome;
        if (read.refusal != 0) {
            outcome = co_await respond(conn, answer_refusal(*site, read.refusal), lim.send_timeout);
        } else {
            auto const& request = parser.get();
            answer_terms const terms{request.keep_alive() &&
                                         !state.draining.load(std::memory_order_relaxed) &&
                                         served + 1 < lim.max_requests_per_connection,
                                     request.version() == 10};
            outcome = co_await answer_request(conn, buffer, state.delays(thread), state, *site,
                                              request.base(), terms);
        }
        if (!outcome)
            break;
        state.requests_served.fetch_add(1, std::memory_order_relaxed);
        if (site->cfg.server.access_log)
            log_exchange(rec, *outcome, peer);
        if (!outcome->sent)
            break;
        if (!outcome->keep_alive) {
            close_gently = outcome->must_close || buffer.size() > 0;
            break;
        }
    }
    co_await close_connection(conn, close_gently);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

} // namespace hello_async
