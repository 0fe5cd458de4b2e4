#include "hello_async/session.hpp"

#include "hello_async/access_entry.hpp"
#include "hello_async/conditional.hpp"
#include "hello_async/http_date.hpp"
#include "hello_async/logging.hpp"
#include "hello_async/request_head.hpp"
#include "hello_async/request_path.hpp"
#include "hello_async/response.hpp"

#include <boost/asio/as_tuple.hpp>
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
constexpr std::uint64_t inline_body_max = 64 * 1024;

/// After an error response the client may still be sending; reading that for a moment lets our
/// response arrive before the close turns into a reset (nginx's lingering close).
constexpr std::chrono::seconds linger_time{2};
constexpr std::size_t linger_bytes_max = 1024 * 1024;

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

std::string_view buffer_view(beast::flat_buffer const& buffer)
{
    return {static_cast<char const*>(buffer.data().data()), buffer.data().size()};
}

/// "127.0.0.1:5555" or "[::1]:5555"; IPv4 clients of a dual-stack socket appear as IPv4.
std::string peer_text(tcp::endpoint const& remote)
{
    auto address = remote.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
    auto text = address.is_v6() ? "[" + address.to_string() + "]:" : address.to_string() + ":";
    return text + std::to_string(remote.port());
}

/// What the access log needs to know of one exchange.
struct exchange_record
{
    access_entry entry;
    std::string fallback_line; ///< when no request line could be parsed
    steady::time_point started;
};

void log_exchange(exchange_record& rec, std::string const& peer)
{
    rec.entry.duration =
        std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - rec.started);
    rec.entry.peer = peer;
    rec.entry.raw_line = rec.fallback_line;
    log_access(rec.entry);
}

/// The start of what the client sent, for logging a request that could not be parsed.
std::string first_line_of(beast::flat_buffer const& buffer)
{
    std::string_view const data{static_cast<char const*>(buffer.data().data()),
                                buffer.data().size()};
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
        auto const room = std::min<std::size_t>(max_bytes + 1 - data.size(), 16 * 1024);
        auto [ec, n] = co_await conn.socket.async_read_some(buffer.prepare(room), use_tuple);
        if (ec) {
            out.closed = true;
            co_return out;
        }
        buffer.commit(n);
    }
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

/// The part of the file a response carries.
struct body_span
{
    std::uint64_t offset{0};
    std::uint64_t length{0};
};

/// Where responses are built: one per thread, since a response leaves them before its
/// session next suspends (write_now), or is copied out when it cannot.
struct response_scratch
{
    std::string head;
    std::string body;
};

response_scratch& thread_scratch()
{
    thread_local response_scratch scratch;
    return scratch;
}

/// A response ready to send: its head is in the connection's head buffer, and this says where
/// the body is. Small on purpose: it is all a session keeps of a response across the write.
struct outgoing
{
    unsigned status{0};
    std::chrono::milliseconds delay{0}; ///< not prepared yet: wait this long, then prepare
    bool keep_alive{false};
    bool must_close{false}; ///< the request could not be trusted: close, after lingering
    bool failed{false};     ///< the file could not be read: nothing can be sent
    std::shared_ptr<std::string const> content; ///< a cached file's bytes
    unique_fd file;                             ///< for sendfile; else the body is in memory
    std::uint64_t offset{0};
    std::uint64_t length{0};
    bool body_in_buffer{false}; ///< the body is the connection's body buffer
};

/// Writes the head of `plan` into the scratch buffer and sets where the body comes from. Plain
/// code, not a coroutine: the plan, the head fields and their storage never enter a session's
/// frame.
void prepare_body(response_plan& plan,
                  response_head& head,
                  body_span span,
                  bool head_only,
                  response_scratch& scratch,
                  outgoing& out)
{
    bool const has_file = plan.file.has_body();
    head.status = plan.status;
    head.content_type = plan.content_type;
    head.allow = plan.allow;
    head.location = plan.location;
    head.content_length = has_file ? span.length : plan.built_in_body.size();
    if (plan.status == 204 || plan.status == 304) {
        head.omit_content_length = true; // RFC 9110 §8.6: no body, and no length to claim
        head.content_type = {};
        head_only = true;
    }
    scratch.head.clear();
    append_response_head(scratch.head, head);
    out.status = plan.status;
    out.keep_alive = head.keep_alive;
    if (head_only)
        return;
    if (!has_file) {
        scratch.body = std::move(plan.built_in_body);
        out.body_in_buffer = true;
    } else if (plan.file.content) {
        out.content = std::move(plan.file.content);
        out.offset = span.offset;
        out.length = span.length;
    } else if (span.length <= inline_body_max) {
        out.failed = !read_span(plan.file.fd.get(), span.offset, span.length, scratch.body);
        out.body_in_buffer = true;
    } else {
        out.file = std::move(plan.file.fd);
        out.offset = span.offset;
        out.length = span.length;
    }
}

enum class write_progress
{
    done,
    failed,
    partial, ///< the rest is in `unsent` (and the file, for sendfile): finish_sending
};

/// Writes what the socket takes right now, without waiting. A small response almost always
/// goes whole in this one sendmsg: no asynchronous operation, and nothing kept per connection.
write_progress write_now(connection& conn,
                         outgoing const& out,
                         response_scratch const& scratch,
                         std::string& unsent,
                         std::uint64_t& written)
{
    written = 0;
    if (out.failed)
        return write_progress::failed;
    if (out.file) {
        unsent = scratch.head; // sendfile's path writes the head itself
        return write_progress::partial;
    }
    std::string_view body;
    if (out.content)
        body = std::string_view{*out.content}.substr(out.offset, out.length);
    else if (out.body_in_buffer)
        body = scratch.body;
    std::array<iovec, 2> parts{iovec{const_cast<char*>(scratch.head.data()), scratch.head.size()},
                               iovec{const_cast<char*>(body.data()), body.size()}};
    msghdr message{};
    message.msg_iov = parts.data();
    message.msg_iovlen = parts.size();
    ssize_t sent = 0;
    do {
        sent = ::sendmsg(conn.socket.native_handle(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return write_progress::failed;
    written = static_cast<std::uint64_t>(std::max<ssize_t>(sent, 0));
    if (written == scratch.head.size() + body.size())
        return write_progress::done;
    std::string_view const head_left =
        std::string_view{scratch.head}.substr(std::min<std::size_t>(written, scratch.head.size()));
    std::size_t const body_done = written > scratch.head.size() ? written - scratch.head.size() : 0;
    unsent.assign(head_left);
    unsent.append(body.substr(body_done));
    return write_progress::partial;
}

/// Writes what write_now left, waiting for the client within the send timeout.
net::awaitable<send_outcome> finish_sending(connection& conn,
                                            outgoing const& out,
                                            std::string const& unsent,
                                            std::uint64_t written,
                                            std::chrono::milliseconds send_timeout)
{
    if (out.file)
        co_return co_await send_with_sendfile(conn, unsent, out.file.get(), out.offset, out.length,
                                              send_timeout);
    conn.deadline = steady::now() + send_timeout;
    auto [ec, n] = co_await net::async_write(conn.socket, net::buffer(unsent), use_tuple);
    co_return send_outcome{!ec, written + n};
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

std::optional<std::string_view> field_of(http::request_header<> const& req, http::field name)
{
    auto const it = req.find(name);
    if (it == req.end())
        return std::nullopt;
    return std::string_view{it->value()};
}

/// Validators, preconditions and ranges for a resource's representation (RFC 9110 §8.8, §13,
/// §14). Strings the head points at live in `storage`.
struct representation_metadata
{
    std::string etag;
    std::string last_modified;
    std::string content_range;
};

/// A head with only the connection's settings kept, for an error replacing a resource.
response_head fresh_head(response_head const& old)
{
    response_head head;
    head.keep_alive = old.keep_alive;
    head.client_is_http10 = old.client_is_http10;
    return head;
}

void apply_representation_rules(router const& routes,
                                http::request_header<> const& req,
                                response_plan& plan,
                                response_head& head,
                                body_span& span,
                                representation_metadata& storage)
{
    auto const& file = plan.file;
    span = {0, file.size};
    if (!file.cached_etag.empty() && plan.content_coding.empty()) {
        head.etag = file.cached_etag;
        head.last_modified = file.cached_last_modified;
    } else {
        storage.etag = make_etag(file.inode, file.size, file.mtime, plan.content_coding);
        storage.last_modified = format_http_date(file.mtime.tv_sec);
        head.etag = storage.etag;
        head.last_modified = storage.last_modified;
    }
    head.accept_ranges = true;
    head.content_encoding = plan.content_coding;
    head.vary_accept_encoding = plan.varies_by_encoding;
    head.cache_control = plan.cache_control;

    auto const method = req.method();
    bool const get_or_head = method == http::verb::get || method == http::verb::head;
    conditions const c{field_of(req, http::field::if_match),
                       field_of(req, http::field::if_none_match),
                       field_of(req, http::field::if_modified_since),
                       field_of(req, http::field::if_unmodified_since)};
    switch (evaluate_preconditions(c, get_or_head, head.etag, file.mtime.tv_sec)) {
    case precondition::not_modified:
        plan.status = 304;
        return;
    case precondition::failed:
        plan = routes.error(412);
        head = fresh_head(head);
        span = {0, plan.file.size};
        return;
    case precondition::proceed:
        break;
    }
    auto const range = field_of(req, http::field::range);
    if (!range || method != http::verb::get)
        return;
    auto const wanted = evaluate_range(*range, field_of(req, http::field::if_range), head.etag,
                                       file.mtime.tv_sec, file.size);
    switch (wanted.result) {
    case range_request::outcome::full:
        return;
    case range_request::outcome::partial:
        plan.status = 206;
        span = {wanted.range.first, wanted.range.length()};
        storage.content_range = "bytes " + std::to_string(wanted.range.first) + "-" +
                                std::to_string(wanted.range.last) + "/" + std::to_string(file.size);
        head.content_range = storage.content_range;
        return;
    case range_request::outcome::unsatisfiable: {
        auto const size = file.size;
        plan = routes.error(416);
        head = fresh_head(head);
        span = {0, plan.file.size};
        storage.content_range = "bytes */" + std::to_string(size);
        head.content_range = storage.content_range;
        return;
    }
    }
}

/// Decides the response to a parsed request; `must_close` when the connection cannot go on.
response_plan
plan_response(router const& routes, http::request_header<> const& req, bool& must_close)
{
    auto const method = req.method();
    std::string_view const target = req.target();
    if (req.version() != 10 && req.version() != 11) {
        must_close = true;
        return routes.error(505);
    }
    if (method == http::verb::unknown)
        return routes.error(501);
    if (target == "*") {
        if (method != http::verb::options) {
            must_close = true;
            return routes.error(400);
        }
        response_plan plan;
        plan.status = 204;
        plan.allow = router::server_allow();
        return plan;
    }
    auto const normalized = normalize_target(target);
    switch (normalized.result) {
    case normalized_target::outcome::ok:
        break;
    case normalized_target::outcome::nul_byte:
        return routes.error(404);
    case normalized_target::outcome::bad_request:
        must_close = true;
        return routes.error(400);
    }
    resource_request const request{
        method, normalized.path,
        parse_accept_encoding(field_of(req, http::field::accept_encoding))};
    return routes.route(request);
}

/// The error page for a request that could not be parsed or trusted; the connection closes.
outgoing prepare_refusal(router const& routes, unsigned status, response_scratch& scratch)
{
    auto plan = routes.error(status);
    response_head head;
    head.keep_alive = false;
    outgoing out;
    body_span const span{0, plan.file.size};
    prepare_body(plan, head, span, false, scratch, out);
    return out;
}

/// How the connection stands when a request is answered.
struct exchange_terms
{
    bool keep_alive{true};
    bool client_is_http10{false};
    bool delay_done{false}; ///< the route's delay has been waited already
};

/// Routes a parsed request and prepares its response: validators, preconditions, ranges. A
/// route with a delay comes back unprepared, with `delay` set, unless the delay is done.
outgoing prepare_answer(router const& routes,
                        http::request_header<> const& req,
                        exchange_terms terms,
                        response_scratch& scratch)
{
    outgoing out;
    auto plan = plan_response(routes, req, out.must_close);
    if (plan.delay.count() > 0 && !terms.delay_done) {
        // Wait without holding the file open: ten thousand sleeping requests must not cost
        // ten thousand descriptors. The route is resolved again when the delay is over.
        out.delay = plan.delay;
        return out;
    }
    response_head head;
    head.client_is_http10 = terms.client_is_http10;
    head.keep_alive = terms.keep_alive && !out.must_close;
    body_span span{0, plan.file.size};
    representation_metadata metadata;
    if (plan.is_resource)
        apply_representation_rules(routes, req, plan, head, span, metadata);
    prepare_body(plan, head, span, req.method() == http::verb::head, scratch, out);
    return out;
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
    auto& registry = state.registry(thread);
    connection_scope const scope{state, registry, conn};
    auto site = state.current_site();
    auto generation = state.site_generation();
    std::string const peer = peer_text(remote);
    beast::flat_buffer buffer;
    std::string unsent;        // what the socket did not take at once; empty almost always
    bool close_gently = false; // unread input may remain: linger before closing

    for (std::size_t served = 0;; ++served) {
        auto const& idle_limits = site->cfg.limits;
        // A fresh connection is not idle: its first request is on the way and must be answered.
        conn.idle = served > 0;
        if (buffer.size() == 0) {
            // Nothing pipelined: wait for the first byte under the idle timeout, so that the
            // header timeout counts from the moment a request starts arriving.
            conn.deadline = steady::now() + (served == 0 ? idle_limits.header_timeout
                                                         : idle_limits.keepalive_timeout);
            beast::error_code ignored;
            if (served > 0 && state.draining.load(std::memory_order_relaxed) &&
                conn.socket.available(ignored) == 0)
                break;
            auto [ec, n] =
                co_await conn.socket.async_read_some(buffer.prepare(first_read_bytes), use_tuple);
            // A drain cancels idle reads; one whose request had already arrived goes on.
            if (ec == net::error::operation_aborted && conn.socket.is_open() &&
                conn.socket.available(ignored) > 0)
                std::tie(ec, n) = co_await conn.socket.async_read_some(
                    buffer.prepare(first_read_bytes), use_tuple);
            if (ec)
                break;
            buffer.commit(n);
        }
        conn.idle = false;
        if (auto const now_generation = state.site_generation(); now_generation != generation) {
            site = state.current_site();
            generation = now_generation;
        }
        auto const& lim = site->cfg.limits;
        exchange_record rec;
        rec.started = steady::now();
        conn.deadline = rec.started + lim.header_timeout;

        request_parser parser;
        // read_head enforces header_bytes; Beast's own limit only backs it up.
        parser.header_limit(static_cast<std::uint32_t>(lim.header_bytes + 4));
        parser.body_limit(lim.body_bytes);
        auto const head_read = co_await read_head(conn, buffer, lim.header_bytes);
        if (head_read.closed)
            break; // the client left, or was too slow: nobody to answer

        unsigned refusal = head_read.status;
        if (refusal == 0) {
            beast::error_code ec;
            parser.put(net::buffer(buffer.data().data(), head_read.length), ec);
            buffer.consume(head_read.length);
            if (!ec && !parser.is_header_done())
                ec = http::error::partial_message;
            // Framing is checked before a body is read, so a doubtful one is never consumed.
            if (!ec) {
                if (auto problem = framing_problem_of(parser.get().base(), lim)) {
                    refusal = *problem;
                } else if (!parser.is_done()) {
                    conn.deadline = steady::now() + lim.body_timeout;
                    std::tie(ec, std::ignore) =
                        co_await http::async_read(conn.socket, buffer, parser, use_tuple);
                    if (ec && !conn.socket.is_open())
                        break;
                }
            }
            if (ec)
                refusal = status_for_read_error(ec);
        }

        outgoing out;
        if (refusal != 0) {
            auto const& partial = parser.get();
            if (!parser.is_header_done()) {
                rec.fallback_line = first_line_of(buffer);
            } else {
                rec.entry.method = partial.method_string();
                rec.entry.target = partial.target();
                rec.entry.version = partial.version();
            }
            out = prepare_refusal(site->routes, refusal, thread_scratch());
            out.must_close = true;
        } else {
            auto const& req = parser.get();
            rec.entry.method = req.method_string();
            rec.entry.target = req.target();
            rec.entry.version = req.version();
            exchange_terms terms;
            terms.client_is_http10 = req.version() == 10;
            terms.keep_alive = req.keep_alive() &&
                               !state.draining.load(std::memory_order_relaxed) &&
                               served + 1 < lim.max_requests_per_connection;
            out = prepare_answer(site->routes, req.base(), terms, thread_scratch());
            if (out.delay.count() > 0) {
                conn.deadline = steady::time_point::max();
                if (buffer.size() == 0)
                    buffer.shrink_to_fit(); // nor a read buffer: the next read allocates again
                auto [delay_ec] =
                    co_await registry.async_wait_until(steady::now() + out.delay, use_tuple);
                if (delay_ec || !conn.socket.is_open())
                    break;
                // A drain that began during the delay still gets this answer, but no further one.
                if (state.draining.load(std::memory_order_relaxed))
                    terms.keep_alive = false;
                terms.delay_done = true;
                out = prepare_answer(site->routes, req.base(), terms, thread_scratch());
            }
        }

        rec.entry.status = out.status;
        send_outcome sent;
        switch (write_now(conn, out, thread_scratch(), unsent, sent.bytes)) {
        case write_progress::done:
            sent.ok = true;
            break;
        case write_progress::failed:
            break;
        case write_progress::partial:
            sent = co_await finish_sending(conn, out, unsent, sent.bytes, lim.send_timeout);
            unsent = std::string{};
            break;
        }
        // Let go of the file now, not when the next request replaces it.
        out.content.reset();
        out.file.reset();
        rec.entry.bytes = sent.bytes;
        state.requests_served.fetch_add(1, std::memory_order_relaxed);
        if (site->cfg.server.access_log)
            log_exchange(rec, peer);
        if (refusal != 0) {
            close_gently = true;
            break;
        }
        if (!sent.ok)
            break;
        if (!out.keep_alive) {
            close_gently = out.must_close || buffer.size() > 0;
            break;
        }
    }

    if (conn.socket.is_open()) {
        if (close_gently) {
            co_await linger_close(conn);
        } else {
            // Nothing left unread that we know of: close() alone sends the FIN after the
            // response.
            beast::error_code ignored;
            conn.socket.close(ignored);
        }
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

} // namespace hello_async
