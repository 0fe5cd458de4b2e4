#include "hello_async/session.hpp"

#include "hello_async/access_entry.hpp"
#include "hello_async/logging.hpp"
#include "hello_async/request_path.hpp"
#include "hello_async/response.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>
#include <sys/sendfile.h>

namespace hello_async {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;
using namespace net::experimental::awaitable_operators;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

/// Bodies up to this size are read into memory and sent with the head in one writev; larger
/// ones go out with sendfile.
constexpr std::uint64_t inline_body_max = 64 * 1024;

/// After an error response the client may still be sending; reading that for a moment lets our
/// response arrive before the close turns into a reset (nginx's lingering close).
constexpr std::chrono::seconds linger_time{2};
constexpr std::size_t linger_bytes_max = 1024 * 1024;

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
        void finish(beast::error_code& ec) { ec = {}; }
    };
};

using request_parser = http::request_parser<discard_body>;

/// Closes the socket when the connection's deadline passes; ends when the session does.
net::awaitable<void> watch_deadline(connection& conn)
{
    net::steady_timer timer{conn.socket.get_executor()};
    for (;;) {
        timer.expires_at(conn.deadline);
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (ec)
            co_return; // cancelled: the session is over
        if (conn.deadline <= steady::now()) {
            beast::error_code ignored;
            conn.socket.close(ignored);
            co_return;
        }
    }
}

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

/// What the access log needs to know of one exchange.
struct exchange_record
{
    access_entry entry;
    std::string fallback_line; ///< when no request line could be parsed
    steady::time_point started;
};

void log_exchange(exchange_record& rec, std::string const& peer, fmt::memory_buffer& line)
{
    rec.entry.duration =
        std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - rec.started);
    rec.entry.peer = peer;
    rec.entry.raw_line = rec.fallback_line;
    line.clear();
    format_access_entry(line, rec.entry);
    access_log().info(std::string_view{line.data(), line.size()});
}

/// The start of what the client sent, for logging a request that could not be parsed.
std::string first_line_of(beast::flat_buffer const& buffer)
{
    std::string_view const data{static_cast<char const*>(buffer.data().data()),
                                buffer.data().size()};
    return std::string{data.substr(0, std::min(data.find("\r\n"), std::size_t{200}))};
}

unsigned status_for_read_error(beast::error_code const& ec, request_parser const& parser)
{
    // Beast parses the request line as soon as it is complete: when it never was, the line
    // alone broke the limit, and RFC 9110 §15.5.15 has a status for that.
    if (ec == http::error::header_limit)
        return parser.get().method_string().empty() ? 414 : 431;
    if (ec == http::error::body_limit)
        return 413;
    return 400;
}

struct send_outcome
{
    bool ok{false};
    std::uint64_t bytes{0};
};

/// Sends `head` then the file from offset 0 with sendfile, waiting for writability in between.
net::awaitable<send_outcome> send_with_sendfile(connection& conn,
                                                std::string const& head,
                                                open_file const& file,
                                                std::chrono::milliseconds send_timeout)
{
    send_outcome out;
    conn.deadline = steady::now() + send_timeout;
    auto [ec, n] = co_await net::async_write(conn.socket, net::buffer(head), use_tuple);
    out.bytes += n;
    if (ec)
        co_return out;
    off_t offset = 0;
    auto const size = static_cast<off_t>(file.size);
    while (offset < size) {
        conn.deadline = steady::now() + send_timeout;
        auto const chunk = static_cast<std::size_t>(std::min<off_t>(size - offset, 1 << 20));
        auto const sent = ::sendfile(conn.socket.native_handle(), file.fd.get(), &offset, chunk);
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

/// Writes one response; `head_only` for HEAD (and for statuses that have no body).
net::awaitable<send_outcome> send_response(connection& conn,
                                           response_plan& plan,
                                           response_head& head,
                                           bool head_only,
                                           limits const& lim,
                                           std::string& head_buffer,
                                           std::string& body_buffer)
{
    bool const has_file = static_cast<bool>(plan.file.fd);
    head.status = plan.status;
    head.content_type = plan.content_type;
    head.allow = plan.allow;
    head.location = plan.location;
    head.content_length = has_file ? plan.file.size : plan.built_in_body.size();
    if (plan.status == 204 || plan.status == 304) {
        head.content_length = 0;
        head.content_type = {};
        head_only = true;
    }
    head_buffer.clear();
    append_response_head(head_buffer, head);

    std::string_view body;
    if (!head_only) {
        if (!has_file) {
            body = plan.built_in_body;
        } else if (plan.file.size <= inline_body_max) {
            if (!read_whole(plan.file.fd.get(), plan.file.size, body_buffer))
                co_return send_outcome{};
            body = body_buffer;
        } else {
            co_return co_await send_with_sendfile(conn, head_buffer, plan.file, lim.send_timeout);
        }
    }
    conn.deadline = steady::now() + lim.send_timeout;
    std::array<net::const_buffer, 2> const buffers{net::buffer(head_buffer), net::buffer(body)};
    auto [ec, n] = co_await net::async_write(conn.socket, buffers, use_tuple);
    co_return send_outcome{!ec, n};
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

/// The request loop of one connection.
net::awaitable<void> serve_connection(connection& conn, server_state& state)
{
    auto site = state.current_site();
    auto generation = state.site_generation();
    std::string peer;
    {
        beast::error_code ec;
        auto const remote = conn.socket.remote_endpoint(ec);
        if (!ec) {
            auto address = remote.address();
            // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; log them as IPv4.
            if (address.is_v6() && address.to_v6().is_v4_mapped())
                address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
            peer = address.is_v6() ? "[" + address.to_string() + "]:" : address.to_string() + ":";
            peer += std::to_string(remote.port());
        }
    }
    beast::flat_buffer buffer;
    std::string head_buffer;
    std::string body_buffer;
    fmt::memory_buffer log_line;
    bool close_gently = false; // unread input may remain: linger before closing

    for (std::size_t served = 0;; ++served) {
        auto const& lim = site->cfg.limits;
        // A fresh connection is not idle: its first request is on the way and must be answered.
        conn.idle = served > 0;
        if (buffer.size() == 0) {
            // Nothing pipelined: wait for the first byte under the idle timeout, so that the
            // header timeout counts from the moment a request starts arriving.
            conn.deadline =
                steady::now() + (served == 0 ? lim.header_timeout : lim.keepalive_timeout);
            beast::error_code ignored;
            if (served > 0 && state.draining.load(std::memory_order_relaxed) &&
                conn.socket.available(ignored) == 0)
                break;
            auto [ec, n] = co_await conn.socket.async_read_some(buffer.prepare(4096), use_tuple);
            beast::error_code ignored_ec;
            if (ec == net::error::operation_aborted && conn.socket.is_open() &&
                conn.socket.available(ignored_ec) > 0)
                std::tie(ec, n) =
                    co_await conn.socket.async_read_some(buffer.prepare(4096), use_tuple);
            if (ec)
                break;
            buffer.commit(n);
        }
        conn.idle = false;
        if (auto const now_generation = state.site_generation(); now_generation != generation) {
            site = state.current_site();
            generation = now_generation;
        }
        auto const& limits_now = site->cfg.limits;
        exchange_record rec;
        rec.started = steady::now();
        conn.deadline = rec.started + limits_now.header_timeout;

        request_parser parser;
        parser.header_limit(limits_now.header_bytes);
        parser.body_limit(limits_now.body_bytes);
        auto [read_ec, read_n] =
            co_await http::async_read_header(conn.socket, buffer, parser, use_tuple);
        if (!read_ec && !parser.is_done()) {
            conn.deadline = steady::now() + limits_now.body_timeout;
            std::tie(read_ec, read_n) =
                co_await http::async_read(conn.socket, buffer, parser, use_tuple);
        }

        response_head head;
        if (read_ec) {
            if (!conn.socket.is_open() || read_ec == http::error::end_of_stream ||
                read_ec == http::error::partial_message || read_ec == net::error::eof ||
                read_ec == net::error::connection_reset || read_ec == net::error::operation_aborted)
                break; // the client left, or was too slow: nobody to answer
            auto plan = site->routes.error(status_for_read_error(read_ec, parser));
            head.keep_alive = false;
            auto const& partial = parser.get();
            if (partial.method_string().empty()) {
                rec.fallback_line = first_line_of(buffer);
            } else {
                rec.entry.method = partial.method_string();
                rec.entry.target = partial.target();
                rec.entry.version = partial.version();
            }
            rec.entry.status = plan.status;
            auto sent = co_await send_response(conn, plan, head, false, limits_now, head_buffer,
                                               body_buffer);
            rec.entry.bytes = sent.bytes;
            if (site->cfg.server.access_log)
                log_exchange(rec, peer, log_line);
            state.requests_served.fetch_add(1, std::memory_order_relaxed);
            close_gently = true;
            break;
        }

        auto const& req = parser.get();
        rec.entry.method = req.method_string();
        rec.entry.target = req.target();
        rec.entry.version = req.version();
        head.client_is_http10 = req.version() == 10;
        head.keep_alive = req.keep_alive() && !state.draining.load(std::memory_order_relaxed) &&
                          served + 1 < limits_now.max_requests_per_connection;

        response_plan plan;
        auto const method = req.method();
        bool must_close = false;
        auto const host_fields = req.count(http::field::host);
        if (req.version() != 10 && req.version() != 11) {
            plan = site->routes.error(505);
            must_close = true;
        } else if (host_fields > 1 || (req.version() == 11 && host_fields == 0)) {
            // RFC 9112 §3.2: exactly one Host in HTTP/1.1.
            plan = site->routes.error(400);
            must_close = true;
        } else if (method == http::verb::unknown) {
            plan = site->routes.error(501);
        } else if (rec.entry.target == "*") {
            if (method == http::verb::options) {
                plan.status = 204;
                plan.allow = router::server_allow();
            } else {
                plan = site->routes.error(400);
                must_close = true;
            }
        } else {
            auto normalized = normalize_target(rec.entry.target);
            switch (normalized.result) {
            case normalized_target::outcome::ok:
                plan = site->routes.route(method, normalized.path);
                break;
            case normalized_target::outcome::nul_byte:
                plan = site->routes.error(404);
                break;
            case normalized_target::outcome::bad_request:
                plan = site->routes.error(400);
                must_close = true;
                break;
            }
        }
        if (must_close)
            head.keep_alive = false;

        if (plan.delay.count() > 0) {
            conn.deadline = steady::time_point::max();
            net::steady_timer delay{conn.socket.get_executor(), plan.delay};
            auto [delay_ec] = co_await delay.async_wait(use_tuple);
            if (delay_ec || !conn.socket.is_open())
                break;
            // A drain that began during the delay still gets this answer, but no further one.
            if (state.draining.load(std::memory_order_relaxed))
                head.keep_alive = false;
        }

        rec.entry.status = plan.status;
        auto const sent = co_await send_response(conn, plan, head, method == http::verb::head,
                                                 limits_now, head_buffer, body_buffer);
        rec.entry.bytes = sent.bytes;
        state.requests_served.fetch_add(1, std::memory_order_relaxed);
        if (site->cfg.server.access_log)
            log_exchange(rec, peer, log_line);
        if (!sent.ok)
            break;
        if (!head.keep_alive) {
            close_gently = must_close || buffer.size() > 0;
            break;
        }
    }

    if (conn.socket.is_open()) {
        if (close_gently) {
            co_await linger_close(conn);
        } else {
            beast::error_code ignored;
            conn.socket.shutdown(tcp::socket::shutdown_send, ignored);
            conn.socket.close(ignored);
        }
    }
}

} // namespace

net::awaitable<void>
run_session(tcp::socket socket, std::shared_ptr<server_state> state, std::size_t thread)
{
    connection conn{std::move(socket)};
    connection_scope const scope{*state, state->registry(thread), conn};
    co_await (serve_connection(conn, *state) || watch_deadline(conn));
}

} // namespace hello_async
