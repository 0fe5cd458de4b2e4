#include "hello_async/server/h2_link.hpp"

#include "hello_async/http/access_entry.hpp"
#include "hello_async/http/answer.hpp"
#include "hello_async/http/h2_session.hpp"
#include "hello_async/http/static_files.hpp"
#include "hello_async/server/logging.hpp"
#include "hello_async/server/read_landing.hpp"
#include "hello_async/server/tls_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>
#include <span>
#include <sys/socket.h>

namespace hello_async {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

/// Frames are gathered up to this much before a write: one system call for many small frames.
constexpr std::size_t write_batch_bytes = std::size_t{64} * 1024;

/// Results of a read that does not wait.
enum class read_status
{
    data,
    would_block,
    closed,
};

/// One HTTP/2 connection's streams and output, between the socket and the h2_session. The
/// reading coroutine owns it; a stream waiting out a route's delay, or output waiting for the
/// socket, holds only a weak reference, so that the connection can end at any time.
class h2_link final : public h2_handler,
                      public deadline_listener,
                      public std::enable_shared_from_this<h2_link>
{
  public:
    h2_link(connection& conn,
            std::shared_ptr<server_state> state,
            std::size_t thread,
            std::string const& peer,
            std::shared_ptr<site const> const& start_site)
        : conn_{conn}
        , state_{std::move(state)}
        , thread_{thread}
        , peer_{peer}
        , limits_{start_site->cfg.limits}
        , session_{*this, start_site->cfg.http2, start_site->cfg.limits}
        , opened_{steady::now()}
        , last_activity_{opened_}
    {
        conn_.listener = this;
    }
    h2_link(h2_link const&) = delete;
    h2_link& operator=(h2_link const&) = delete;
    h2_link(h2_link&&) = delete;
    h2_link& operator=(h2_link&&) = delete;
    ~h2_link() override { conn_.listener = nullptr; }

    net::awaitable<bool> run(std::string already_read);

    void on_request(h2_stream& stream) override;
    void on_close(h2_stream& stream, std::uint32_t error_code) override;
    /// RFC 9113 §9.1: GOAWAY before a timeout closes the connection, naming the timeout, so
    /// that the client knows which of its streams were seen.
    void last_words(connection& conn) override;

  private:
    /// What the connection decides about a stream's answer; the views point into `site`, the
    /// one the answer is made with and kept alive by.
    [[nodiscard]] answer_terms terms_for(h2_stream const& stream, site const& site) const;
    void answer_late(std::int32_t id, std::shared_ptr<site const> const& site);
    /// Writes what the session has to send, as far as the socket takes it now.
    void pump();
    /// What the socket takes of `bytes` now: nullopt on an error.
    [[nodiscard]] std::optional<std::uint64_t> write_now(std::string_view bytes);
    void wait_to_write();
    void refresh_deadline();
    /// Reads what the socket holds into the thread's landing; `landed` is then what came.
    read_status read_now(std::span<char const>& landed);
    [[nodiscard]] bool output_blocked() const { return sent_ < out_.size(); }

    connection& conn_;
    std::shared_ptr<server_state> state_;
    std::size_t thread_;
    std::string const& peer_;
    limits limits_; ///< the connection's, from the site it started with
    h2_session session_;
    std::string out_; ///< frames pulled from the session, not yet all written
    std::size_t sent_{0};
    bool write_wait_armed_{false};
    bool failed_{false};          ///< a write failed: the connection is over
    bool goaway_sent_{false};     ///< the drain's first GOAWAY
    bool log_room_wanted_{false}; ///< a stream was logged with access_log_overflow = "wait"
    steady::time_point opened_;
    steady::time_point last_activity_;
    steady::time_point write_progress_{};
    std::string_view deadline_reason_{"keepalive_timeout"}; ///< the limit conn_.deadline is
};

answer_terms h2_link::terms_for(h2_stream const& stream, site const& site) const
{
    answer_terms terms{};
    if (conn_.tls) {
        terms.strict_transport_security = site.cfg.tls.hsts;
    } else if (site.cfg.server.redirect_to_https && state_->https_port != 0) {
        terms.https_redirect_host = &stream.host;
        terms.https_port = state_->https_port;
    }
    return terms;
}

void h2_link::on_request(h2_stream& stream)
{
    auto site = state_->current_site();
    if (stream.refusal != 0) {
        session_.respond(stream, site, answer_refusal(*site, stream.refusal));
        return;
    }
    auto terms = terms_for(stream, *site);
    // The HSTS value and redirect host point into the site and the stream, which the plan's
    // life is bound to (respond() keeps the site).
    auto plan = answer(*site, stream.head, terms);
    if (plan.delay.count() > 0) {
        // A stream waiting out a delay holds no timer and no coroutine: one entry in the
        // thread's delay queue.
        state_->delays(thread_).async_wait_until(
            steady::now() + plan.delay,
            [weak = weak_from_this(), id = stream.id, site](boost::system::error_code ec) {
                if (ec)
                    return;
                if (auto self = weak.lock())
                    self->answer_late(id, site);
            });
        return;
    }
    session_.respond(stream, std::move(site), std::move(plan));
}

void h2_link::answer_late(std::int32_t id, std::shared_ptr<site const> const& site)
{
    auto* stream = session_.find(id);
    if (stream == nullptr || !conn_.socket.is_open())
        return; // the client reset the stream, or left
    auto plan = answer_after_delay(*site, stream->head, terms_for(*stream, *site));
    session_.respond(*stream, site, std::move(plan));
    pump();
}

void h2_link::on_close(h2_stream& stream, std::uint32_t /*error_code*/)
{
    // The keep-alive timeout runs from the end of the last stream, not from the last read: a
    // stream that slept past it must not leave its connection closed at once.
    last_activity_ = steady::now();
    if (stream.status == 0)
        return; // reset before it was answered: nothing was served
    state_->requests_served.fetch_add(1, std::memory_order_relaxed);
    if (!stream.answered_by->cfg.server.access_log)
        return;
    access_entry entry;
    entry.method = stream.method;
    entry.target = stream.path;
    entry.version = http2_version;
    entry.status = stream.status;
    entry.bytes = stream.body_sent;
    entry.duration =
        std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - stream.started);
    entry.peer = peer_;
    if (conn_.tls && conn_.socket.is_open()) {
        auto const facts = tls_facts_of(conn_);
        entry.tls_protocol = facts.protocol;
        entry.tls_cipher = facts.cipher;
        entry.tls_sni = facts.sni;
    }
    auto const overflow = stream.answered_by->cfg.server.access_log_overflow;
    log_access(entry, overflow);
    if (overflow == log_overflow::wait)
        log_room_wanted_ = true;
}

read_status h2_link::read_now(std::span<char const>& landed)
{
    auto const into = thread_read_landing();
    if (into.empty() || !conn_.socket.is_open())
        return read_status::closed; // no memory to read into, or no socket
    if (conn_.tls) {
        auto const r = tls_read_now(conn_, net::buffer(into.data(), into.size()));
        landed = into.first(r.bytes);
        switch (r.status) {
        case tls_read_status::data:
            // Read on past the reactor's report: the frames may carry requests sent after a
            // change whose notice is still unread.
            file_notices_may_be_pending();
            return read_status::data;
        case tls_read_status::would_block:
            return read_status::would_block;
        case tls_read_status::closed:
            return read_status::closed;
        }
        return read_status::closed;
    }
    for (;;) {
        auto const n = ::recv(conn_.socket.native_handle(), into.data(), into.size(), MSG_DONTWAIT);
        if (n > 0) {
            landed = into.first(static_cast<std::size_t>(n));
            file_notices_may_be_pending(); // as above
            return read_status::data;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return read_status::would_block;
        return read_status::closed;
    }
}

void h2_link::pump()
{
    while (!failed_ && conn_.socket.is_open()) {
        if (!output_blocked()) {
            out_.clear();
            sent_ = 0;
            if (!session_.pull(out_, write_batch_bytes)) {
                failed_ = true;
                break;
            }
            if (out_.empty())
                break;
        }
        auto const written = write_now(std::string_view{out_}.substr(sent_));
        if (!written) {
            failed_ = true;
            break;
        }
        if (*written > 0)
            write_progress_ = steady::now();
        sent_ += static_cast<std::size_t>(*written);
        if (output_blocked()) {
            wait_to_write();
            break;
        }
    }
    if (failed_) {
        // Wakes the reading coroutine, which ends the connection.
        boost::system::error_code ignored;
        conn_.socket.cancel(ignored);
        return;
    }
    if (session_.finished() && !output_blocked()) {
        boost::system::error_code ignored;
        conn_.socket.cancel(ignored);
    }
    refresh_deadline();
}

std::optional<std::uint64_t> h2_link::write_now(std::string_view bytes)
{
    if (conn_.tls)
        return tls_write_now(conn_, bytes);
    auto const n = ::send(conn_.socket.native_handle(), bytes.data(), bytes.size(),
                          MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0)
        return static_cast<std::uint64_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    return std::nullopt;
}

void h2_link::wait_to_write()
{
    if (write_wait_armed_)
        return;
    write_wait_armed_ = true;
    conn_.socket.async_wait(tcp::socket::wait_write,
                            [weak = weak_from_this()](boost::system::error_code ec) {
                                auto self = weak.lock();
                                if (!self)
                                    return;
                                self->write_wait_armed_ = false;
                                if (ec && ec != net::error::operation_aborted)
                                    return;
                                self->pump();
                            });
}

void h2_link::refresh_deadline()
{
    auto deadline = steady::time_point::max();
    std::string_view reason;
    auto consider = [&deadline, &reason](steady::time_point when, std::string_view why) {
        if (when < deadline) {
            deadline = when;
            reason = why;
        }
    };
    if (output_blocked())
        consider(write_progress_ + limits_.send_timeout, "send_timeout");
    for (auto const& [id, stream] : session_.streams()) {
        switch (stream->state) {
        case h2_stream::phase::headers:
            consider(stream->started + limits_.header_timeout, "header_timeout");
            break;
        case h2_stream::phase::body:
            consider(stream->last_progress + limits_.body_timeout, "body_timeout");
            break;
        case h2_stream::phase::responding:
            // A window the client never opens (RFC 9113 §6.9) holds the stream at no cost to
            // it; send_timeout ends that as it ends a socket that is never read.
            if (stream->body_sent < stream->body_total)
                consider(stream->last_progress + limits_.send_timeout, "send_timeout");
            break;
        case h2_stream::phase::answering:
            break;
        }
    }
    if (session_.streams().empty())
        consider(last_activity_ + limits_.keepalive_timeout, "keepalive_timeout");
    // The first request a drain waits for may take no longer than any request's head.
    if (!session_.has_begun_a_stream() && state_->draining.load(std::memory_order_relaxed))
        consider(opened_ + limits_.header_timeout, "header_timeout");
    conn_.deadline = deadline;
    deadline_reason_ = reason;
}

void h2_link::last_words(connection& /*conn*/)
{
    session_.give_up(deadline_reason_);
    pump();
}

net::awaitable<bool> h2_link::run(std::string already_read)
{
    // A drain cancels the waits of connections marked idle: this one then says GOAWAY and
    // finishes its streams, whatever state they are in.
    conn_.idle = true;
    // Unless the client has closed its side, it may still be sending when we end (after a
    // GOAWAY above all): linger, so that it reads what we sent before the close.
    bool gently = true;
    bool more = already_read.empty() || session_.receive(already_read);
    already_read = {};
    pump();
    while (more && !failed_ && conn_.socket.is_open()) {
        if (log_room_wanted_) {
            // access_log_overflow = "wait": no new streams until journald has taken entries.
            log_room_wanted_ = false;
            co_await access_log_room();
        }
        // A connection opened just before the drain is owed its first request, as on HTTP/1.1.
        if (state_->draining.load(std::memory_order_relaxed) && !goaway_sent_ &&
            session_.has_begun_a_stream())
        {
            goaway_sent_ = true;
            session_.shut_down();
            pump();
        }
        if (session_.finished() && !output_blocked())
            break;
        if (output_blocked()) {
            // The client reads too slowly: read nothing more until it has caught up.
            auto [ec] = co_await conn_.socket.async_wait(tcp::socket::wait_write, use_tuple);
            if (ec && ec != net::error::operation_aborted)
                break;
            pump();
            continue;
        }
        std::span<char const> landed;
        auto const status = read_now(landed);
        if (status == read_status::closed) {
            gently = false;
            break;
        }
        if (status == read_status::data) {
            last_activity_ = steady::now();
            // Handled whole before anything else of this thread runs: the landing is shared.
            more = session_.receive({landed.data(), landed.size()});
            pump();
            continue;
        }
        refresh_deadline();
        auto [ec] = co_await conn_.socket.async_wait(tcp::socket::wait_read, use_tuple);
        if (ec && ec != net::error::operation_aborted)
            break;
    }
    // After a protocol error or a flood: the GOAWAY goes if the socket takes it now.
    pump();
    co_return gently && !failed_;
}

} // namespace

net::awaitable<bool> serve_h2(connection& conn,
                              std::shared_ptr<server_state> state,
                              std::size_t thread,
                              std::string const& peer,
                              std::string already_read)
{
    auto const site = state->current_site();
    auto link = std::make_shared<h2_link>(conn, std::move(state), thread, peer, site);
    co_return co_await link->run(std::move(already_read));
}

} // namespace hello_async
