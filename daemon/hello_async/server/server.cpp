#include "hello_async/server/server.hpp"

#include "hello_async/http/static_files.hpp"
#include "hello_async/server/arrival_read.hpp"
#include "hello_async/server/endpoint_text.hpp"
#include "hello_async/server/logging.hpp"
#include "hello_async/server/session.hpp"
#include "hello_async/server/systemd.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <system_error>

namespace hello_async {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

/// How long accepting pauses after the process ran out of descriptors or memory: a listening
/// socket stays readable then, and retrying at once would spin a core.
constexpr std::chrono::milliseconds accept_backoff{100};
/// How often a thread at the connection limit looks for a free slot.
constexpr std::chrono::milliseconds limit_poll{10};
/// How often STATUS= is refreshed with live counters.
constexpr std::chrono::seconds status_period{5};
/// How often dropped log entries are reported, when there were any.
constexpr std::chrono::seconds dropped_report_period{10};
/// How often a certificate near or past its end is named in the journal again.
constexpr std::chrono::hours certificate_warning_period{1};

constexpr log_failure<spdlog::level::critical> log_task_failure{"server task"};

bool out_of_resources(boost::system::error_code const& ec)
{
    return ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
           ec == net::error::no_memory || ec.value() == ENFILE;
}

/// Returns once the server is below max_connections, or the acceptor has closed.
net::awaitable<void> wait_for_a_free_slot(tcp::acceptor const& acceptor,
                                          server_state const& state,
                                          net::steady_timer& pause)
{
    while (state.open_connections.load(std::memory_order_relaxed) >=
               state.current_site()->cfg.limits.max_connections &&
           acceptor.is_open())
    {
        pause.expires_after(limit_poll);
        co_await pause.async_wait(use_tuple);
    }
}

/// `io` runs this loop, and the connections it accepts are bound to it.
net::awaitable<void> accept_loop(net::io_context& io,
                                 std::shared_ptr<tcp::acceptor> acceptor,
                                 std::shared_ptr<server_state> state,
                                 std::size_t thread,
                                 bool tls)
{
    auto const executor = co_await net::this_coro::executor;
    net::steady_timer pause{executor};
    tcp::endpoint remote;
    // Pipelined responses are written back to back; Nagle would hold the second one until the
    // client's delayed ACK of the first. Accepted sockets inherit TCP_NODELAY from a listener
    // that has it (the server sets it there), so each connection needs it only if that failed.
    tcp::no_delay listener_no_delay;
    boost::system::error_code option_error;
    acceptor->get_option(listener_no_delay, option_error);
    bool const set_no_delay_on_each = option_error || !listener_no_delay.value();
    while (acceptor->is_open()) {
        // Leave further clients in the kernel's backlog until a slot frees up.
        co_await wait_for_a_free_slot(*acceptor, *state, pause);
        if (!acceptor->is_open())
            break;
        // The peer's address comes with the accept: no getpeername per connection.
        auto [ec, socket] = co_await acceptor->async_accept(io, remote, use_tuple);
        if (ec == net::error::operation_aborted)
            break;
        // A drain may have closed the acceptor after this accept completed: the client is ours
        // now, and is served, not dropped (an idle exit promises that no client is lost).
        if (ec) {
            if (!acceptor->is_open())
                break;
            if (out_of_resources(ec)) {
                spdlog::warn("accept: {}; pausing for {}ms", ec.message(), accept_backoff.count());
                pause.expires_after(accept_backoff);
                co_await pause.async_wait(use_tuple);
            }
            continue; // ECONNABORTED and friends concern one client only
        }
        // Several threads may have been waiting in accept when the last slot went: the
        // connection then waits here, unread, as it would have in the backlog.
        if (acceptor->is_open()) {
            co_await wait_for_a_free_slot(*acceptor, *state, pause);
        }
        if (set_no_delay_on_each) {
            boost::system::error_code ignored;
            socket.set_option(tcp::no_delay{true}, ignored);
        }
        state->open_connections.fetch_add(1, std::memory_order_relaxed);
        // A reload may replace the certificates: each connection keeps the ones it began with.
        auto certificates = tls ? state->current_tls() : nullptr;
        start_session(std::move(socket), remote, state, thread, std::move(certificates));
    }
}

/// "127.0.0.1:7878" / "[::]:7878" for a listening socket.
std::string describe_listener(int fd)
{
    auto const endpoint = local_endpoint_of(fd);
    return endpoint ? endpoint_text(*endpoint) : "fd " + std::to_string(fd);
}

std::chrono::steady_clock::rep steady_ticks()
{
    return std::chrono::steady_clock::now().time_since_epoch().count();
}

/// An I/O thread's sign of life for the watchdog: a timestamp its own loop writes every
/// `period`, which it can do only while it runs handlers.
net::awaitable<void> beat(std::shared_ptr<net::steady_timer> timer,
                          std::chrono::milliseconds period,
                          std::atomic<std::chrono::steady_clock::rep>& last_beat,
                          std::shared_ptr<server_state const> state)
{
    // The drain's cancel misses a wait that has completed but not yet resumed this coroutine:
    // the flag, set before the cancel is posted, ends the loop then.
    while (!state->draining.load(std::memory_order_relaxed)) {
        last_beat.store(steady_ticks(), std::memory_order_relaxed);
        timer->expires_after(period);
        auto [ec] = co_await timer->async_wait(use_tuple);
        if (ec)
            co_return; // cancelled by the drain
    }
}

} // namespace

std::vector<unique_fd> bind_listeners(std::vector<tcp::endpoint> const& listen)
{
    net::io_context scratch{1};
    std::vector<unique_fd> out;
    for (auto const& endpoint : listen) {
        tcp::acceptor acceptor{scratch};
        boost::system::error_code ec;
        acceptor.open(endpoint.protocol(), ec);
        if (!ec)
            acceptor.set_option(tcp::acceptor::reuse_address{true}, ec);
        // "[::]" serves IPv4 too, as systemd's ListenStream=PORT does.
        if (!ec && endpoint.address().is_v6() && endpoint.address().is_unspecified())
            acceptor.set_option(net::ip::v6_only{false}, ec);
        if (!ec)
            acceptor.bind(endpoint, ec);
        if (!ec)
            acceptor.listen(tcp::acceptor::max_listen_connections, ec);
        if (ec)
            throw std::system_error{ec, "cannot listen on " + endpoint_text(endpoint)};
        out.emplace_back(acceptor.release());
    }
    return out;
}

std::vector<listening_socket> open_listeners(config const& cfg)
{
    std::vector<listening_socket> out;
    auto add = [&out](std::vector<unique_fd> fds, bool tls, bool from_manager = false) {
        for (auto& fd : fds)
            out.push_back({std::move(fd), tls, from_manager});
    };
    if (auto adopted = adopt_listen_sockets(cfg.server.socket_name, cfg.tls.socket_name)) {
        for (auto const& other : adopted->ignored)
            spdlog::warn("socket activation: ignoring {}", other);
        add(std::move(adopted->listeners), false, true);
        add(std::move(adopted->tls_listeners), true, true);
        return out;
    }
    add(bind_listeners(cfg.server.listen), false);
    add(bind_listeners(cfg.tls.listen), true);
    return out;
}

std::shared_ptr<tls_context const> load_tls_for(config const& cfg,
                                                std::vector<listening_socket> const& listeners)
{
    bool const any_tls =
        std::any_of(listeners.begin(), listeners.end(), [](auto const& l) { return l.tls; });
    if (!any_tls)
        return nullptr;
    auto tls = tls_context::load(cfg, nullptr);
    for (auto const& warning : tls->validity_warnings(std::chrono::system_clock::now()))
        spdlog::warn("{}", warning);
    return tls;
}

struct server::worker
{
    /// Only its own thread touches its sockets (others post to it): the reactor takes no lock
    /// per descriptor operation, two or three per request saved.
    net::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    /// Destroyed before ioc, whose destruction ends the sessions still in the registry.
    net::steady_timer deadline_sweep{ioc};
    net::steady_timer delays{ioc};
    std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
    std::vector<bool> acceptor_is_tls;
    /// Moves `last_beat` while the thread's loop runs; null without a watchdog.
    std::shared_ptr<net::steady_timer> heartbeat;
    std::atomic<std::chrono::steady_clock::rep> last_beat{steady_ticks()};
    /// The inotify instance through which this thread's file cache learns of changes; closed
    /// when the kernel has none to give, and then the cache checks each hit with fstat.
    net::posix::stream_descriptor file_notices{ioc};
};

namespace {

/// Hands the thread's file cache each batch of change notices as soon as the loop sees it,
/// until the drain.
void pass_on_file_changes(net::posix::stream_descriptor& notices, server_state const& state)
{
    notices.async_wait(net::posix::stream_descriptor::wait_read,
                       [&notices, &state](boost::system::error_code ec) {
                           if (ec)
                               return;
                           drop_changed_files();
                           if (!state.draining.load(std::memory_order_relaxed))
                               pass_on_file_changes(notices, state);
                       });
}

/// An I/O thread's file cache watching its files through the thread's inotify instance, for
/// as long as the thread runs its loop.
class thread_file_watch
{
  public:
    thread_file_watch(net::posix::stream_descriptor& notices, server_state const& state)
    {
        if (!notices.is_open())
            return;
        watch_cached_files(notices.native_handle());
        pass_on_file_changes(notices, state);
    }
    thread_file_watch(thread_file_watch const&) = delete;
    thread_file_watch& operator=(thread_file_watch const&) = delete;
    thread_file_watch(thread_file_watch&&) = delete;
    thread_file_watch& operator=(thread_file_watch&&) = delete;
    ~thread_file_watch() { watch_cached_files(-1); }
};

/// The inotify instance for a thread's file cache; left closed when the kernel has none to give.
void open_file_notices(net::posix::stream_descriptor& notices)
{
    int const fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        spdlog::warn("inotify_init1: {}; cached files are checked with fstat on every request",
                     std::error_code{errno, std::system_category()}.message());
        return;
    }
    notices.assign(fd);
}

} // namespace

std::string server::status_line() const
{
    auto const site = state_->current_site();
    std::string out = "listening on" + listening_;
    out += "; " + std::to_string(site->cfg.routes.size()) + " routes, " +
           std::to_string(site->cfg.statics.size()) + " static dirs; " +
           std::to_string(state_->open_connections.load()) + " connections, " +
           std::to_string(state_->requests_served.load()) + " requests served";
    if (auto const dropped = dropped_log_entries(); dropped > 0)
        out += ", " + std::to_string(dropped) + " log entries dropped";
    if (auto const countdown = idle_exit_countdown()) {
        auto const seconds = std::chrono::ceil<std::chrono::seconds>(
            std::max(*countdown, std::chrono::steady_clock::duration::zero()));
        out += "; idle: exiting in " + std::to_string(seconds.count()) +
               "s unless a client connects (server.idle_exit)";
    }
    if (!last_reload_error_.empty())
        out += "; last reload failed: " + last_reload_error_;
    if (auto const tls = state_->current_tls()) {
        for (auto const& warning : tls->validity_warnings(std::chrono::system_clock::now()))
            out += "; " + warning;
    }
    return out;
}

net::awaitable<void> server::watch_signals()
{
    for (;;) {
        auto [ec, signal] = co_await signals_.async_wait(use_tuple);
        if (ec)
            co_return;
        if (signal == SIGHUP) {
            reload();
            continue;
        }
#if HELLO_ASYNC_TEST_HOOKS
        if (signal == SIGUSR1 || signal == SIGUSR2) {
            stall_for_a_test(signal == SIGUSR1);
            continue;
        }
#endif
        spdlog::info("{}: stopping", signal == SIGINT ? "SIGINT" : "SIGTERM");
        begin_drain("draining connections");
        // A second SIGTERM or SIGINT during the drain changes nothing: the grace period rules.
    }
}

net::awaitable<void> server::report_dropped_entries()
{
    net::steady_timer timer{control_};
    auto reported = dropped_log_entries();
    while (!stopping_) {
        timer.expires_after(dropped_report_period);
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (ec || stopping_)
            co_return;
        auto const dropped = dropped_log_entries();
        if (dropped > reported)
            log_dropped_entries(dropped - reported, dropped_report_period);
        reported = dropped;
    }
}

net::awaitable<void> server::refresh_status()
{
    net::steady_timer timer{control_};
    while (!stopping_) {
        timer.expires_after(status_period);
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (ec || stopping_)
            co_return;
        notify_status(status_line());
    }
}

server::server(std::shared_ptr<site const> initial,
               std::vector<listening_socket> listeners,
               std::shared_ptr<tls_context const> tls)
    : listeners_{std::move(listeners)}
{
    auto threads = initial->cfg.server.threads;
    if (threads == 0)
        threads = std::max(1U, std::thread::hardware_concurrency());
    state_ = std::make_shared<server_state>(std::move(initial), threads);
    sockets_from_manager_ = std::any_of(listeners_.begin(), listeners_.end(),
                                        [](auto const& l) { return l.from_manager; });
    if (serves_tls() && !tls)
        throw std::logic_error{"a TLS socket without certificates"};
    state_->replace_tls(std::move(tls));

    for (auto const& listener : listeners_) {
        // Inherited by every accepted socket, instead of one setsockopt per connection; each
        // accept loop checks that it took.
        int const on = 1;
        ::setsockopt(listener.fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        if (listener.tls && state_->https_port == 0) {
            if (auto const local = local_endpoint_of(listener.fd.get()))
                state_->https_port = local->port();
        }
    }
    for (std::size_t i = 0; i < threads; ++i) {
        auto w = std::make_unique<worker>();
        for (auto const& listener : listeners_) {
            auto const local = local_endpoint_of(listener.fd.get());
            if (!local)
                throw std::system_error{errno, std::generic_category(), "getsockname"};
            auto const protocol = local->protocol();
            int const copy = ::fcntl(listener.fd.get(), F_DUPFD_CLOEXEC, 0);
            if (copy < 0)
                throw std::system_error{errno, std::generic_category(), "dup listening socket"};
            auto acceptor = std::make_shared<tcp::acceptor>(w->ioc);
            acceptor->assign(protocol, copy);
            w->acceptors.push_back(std::move(acceptor));
            w->acceptor_is_tls.push_back(listener.tls);
        }
        state_->registry(i).attach_timer(w->deadline_sweep);
        state_->delays(i).attach_timer(w->delays);
        open_file_notices(w->file_notices);
        workers_.push_back(std::move(w));
    }
}

server::~server()
{
    for (auto& w : workers_)
        w->ioc.stop();
    for (auto& t : threads_) {
        if (t.joinable())
            t.join();
    }
}

int server::run()
{
    // Registered before anything announces readiness: a SIGTERM right after "listening on"
    // must start a drain, not kill the process.
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.add(SIGHUP);
#if HELLO_ASYNC_TEST_HOOKS
    signals_.add(SIGUSR1);
    signals_.add(SIGUSR2);
#endif
    // sendfile() on a socket the client closed raises SIGPIPE; the error code is enough.
    static_cast<void>(::signal(SIGPIPE, SIG_IGN)); // cannot fail for a valid signal

    for (auto const& l : listeners_)
        listening_ += " " + describe_listener(l.fd.get()) + (l.tls ? " (TLS)" : "");

    for (std::size_t i = 0; i < workers_.size(); ++i) {
        auto& w = *workers_[i];
        for (std::size_t a = 0; a < w.acceptors.size(); ++a) {
            net::co_spawn(w.ioc,
                          accept_loop(w.ioc, w.acceptors[a], state_, i, w.acceptor_is_tls[a]),
                          log_task_failure);
        }
    }
    start_control_tasks();
    spdlog::info("listening on{}; {} I/O threads", listening_, workers_.size());
    // The sockets listen and every accept loop is queued: connections from now on are served.
    // READY=1 goes out before the I/O threads start, so it precedes any response.
    notify_ready(status_line());

    for (std::size_t i = 0; i < workers_.size(); ++i) {
        auto& w = workers_[i];
        threads_.emplace_back([this, &w, i] {
            {
                thread_file_watch const file_watch{w->file_notices, *state_};
                thread_access_log const access_log{w->ioc};
                thread_reactor const reactor{w->ioc};
                w->ioc.run();
            }
            state_->delays(i).abandon();
            net::post(control_, [this] {
                ++finished_workers_;
                finish_if_done();
            });
        });
    }

    {
        // The control thread's own entries (the dropped-entries report) go to the journal as
        // the request lines do: non-blocking, however slow journald is.
        thread_access_log const control_log{control_};
        control_.run();
    }
    for (auto& t : threads_)
        t.join();
    threads_.clear();
    spdlog::info("stopped after {} requests; {} log entries dropped",
                 state_->requests_served.load(), dropped_log_entries());
    return 0;
}

net::awaitable<void> server::watch_threads(std::chrono::milliseconds period)
{
    net::steady_timer timer{control_};
    // Once the drain begins the manager no longer watches (the service is stopping), and the
    // I/O threads stop beating so that their loops can run out of work.
    while (!stopping_) {
        // A beat is fresh when it came within one ping period: a healthy thread beats twice in
        // that time, so only a thread that ran no handler for a whole period misses it.
        auto const oldest_allowed =
            steady_ticks() - std::chrono::steady_clock::duration{period}.count();
        bool const all_alive = std::all_of(workers_.begin(), workers_.end(), [&](auto const& w) {
            return w->last_beat.load(std::memory_order_relaxed) >= oldest_allowed;
        });
        // This thread shows its own progress by getting here at all.
        if (all_alive)
            notify_watchdog();
        timer.expires_after(period);
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (ec)
            co_return;
    }
}

void server::stall_for_a_test(bool io_thread)
{
    constexpr std::chrono::seconds stall{2};
    if (!io_thread) {
        spdlog::warn("test hook: stalling the control thread for {}s", stall.count());
        std::this_thread::sleep_for(stall);
        return;
    }
    // The last thread: the one furthest from thread 0, which alone used to ping.
    auto const thread = workers_.size() - 1;
    spdlog::warn("test hook: stalling I/O thread {} for {}s", thread, stall.count());
    net::post(workers_[thread]->ioc, [stall] { std::this_thread::sleep_for(stall); });
}

void server::start_watchdog()
{
    // The manager restarts us when a thread stalls: each I/O thread beats at a quarter of the
    // interval, and this thread pings at half of it, only when every beat is fresh.
    auto const interval = watchdog_interval();
    if (!interval)
        return;
    auto const beat_period = std::chrono::duration_cast<std::chrono::milliseconds>(*interval / 4);
    for (auto& w : workers_) {
        w->heartbeat = std::make_shared<net::steady_timer>(w->ioc);
        net::co_spawn(w->ioc, beat(w->heartbeat, beat_period, w->last_beat, state_),
                      log_task_failure);
    }
    net::co_spawn(control_, watch_threads(2 * beat_period), log_task_failure);
}

void server::start_control_tasks()
{
    start_watchdog();
    net::co_spawn(control_, watch_signals(), log_task_failure);
    net::co_spawn(control_, refresh_status(), log_task_failure);
    net::co_spawn(control_, report_dropped_entries(), log_task_failure);
    if (serves_tls())
        net::co_spawn(control_, warn_about_certificates(), log_task_failure);
    if (sockets_from_manager_) {
        net::co_spawn(control_, exit_when_idle(), log_task_failure);
    } else if (state_->current_site()->cfg.server.idle_exit.count() > 0) {
        spdlog::warn("server.idle_exit applies to sockets passed by systemd only: ignored");
    }
}

void server::begin_drain(std::string_view why)
{
    if (stopping_)
        return;
    stopping_ = true;
    state_->draining = true;
    notify_stopping(why);
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        auto& w = *workers_[i];
        net::post(w.ioc, [this, &w, i] {
            boost::system::error_code ignored;
            // Closing our duplicates only: the original stays with the manager (socket
            // activation), so clients queued in its backlog wait for the next instance.
            for (auto& acceptor : w.acceptors)
                acceptor->close(ignored);
            if (w.heartbeat)
                w.heartbeat->cancel();
            // What the drain still answers is checked with fstat, as without inotify.
            watch_cached_files(-1);
            w.file_notices.cancel(ignored);
            state_->registry(i).for_each([](connection& conn) {
                // Cancel, not close: a read that has already completed with the next request
                // still delivers it, and the session answers what was sent before the signal.
                boost::system::error_code not_cancelled;
                if (conn.idle)
                    conn.socket.cancel(not_cancelled);
            });
        });
    }
    listeners_.clear();

    auto const grace = state_->current_site()->cfg.limits.shutdown_grace;
    notify_extend_timeout(std::chrono::duration_cast<std::chrono::microseconds>(grace) +
                          std::chrono::seconds{5});
    grace_timer_.expires_after(grace);
    grace_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || finished_workers_ == workers_.size())
            return;
        auto const left = state_->open_connections.load();
        if (left > 0)
            spdlog::warn("shutdown grace period over: closing {} connections", left);
        for (auto& w : workers_)
            w->ioc.stop();
    });
}

std::optional<std::chrono::steady_clock::duration> server::idle_exit_countdown() const
{
    auto const idle_exit = state_->current_site()->cfg.server.idle_exit;
    if (!sockets_from_manager_ || idle_exit.count() == 0 ||
        state_->open_connections.load(std::memory_order_relaxed) > 0)
        return std::nullopt;
    auto const all_closed_at = std::chrono::steady_clock::time_point{
        std::chrono::steady_clock::duration{state_->all_closed_at.load(std::memory_order_relaxed)}};
    return all_closed_at + idle_exit - std::chrono::steady_clock::now();
}

net::awaitable<void> server::exit_when_idle()
{
    net::steady_timer timer{control_};
    while (!stopping_) {
        auto const idle_exit = state_->current_site()->cfg.server.idle_exit;
        auto const countdown = idle_exit_countdown();
        if (countdown && countdown->count() <= 0) {
            spdlog::info("no connection for {}s: exiting (server.idle_exit); the sockets stay "
                         "with systemd, which starts the daemon again for the next client",
                         std::chrono::duration_cast<std::chrono::seconds>(idle_exit).count());
            // Clients accepted meanwhile are answered; those still in the backlog wait there
            // for the next instance.
            begin_drain("idle: exiting, the sockets stay with systemd");
            co_return;
        }
        // An idle daemon sleeps until its countdown ends. With connections open (the daemon is
        // awake anyway) or idle_exit off (a reload may turn it on), it looks again now and then.
        timer.expires_after(countdown ? *countdown
                                      : std::chrono::steady_clock::duration{status_period});
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (ec)
            co_return;
    }
}

void server::finish_if_done()
{
    if (finished_workers_ < workers_.size())
        return;
    // Ends control_.run(): the signal watcher and status timer are still waiting on it.
    control_.stop();
}

bool server::serves_tls() const
{
    return std::any_of(listeners_.begin(), listeners_.end(), [](auto const& l) { return l.tls; }) ||
           state_->current_tls() != nullptr;
}

net::awaitable<void> server::warn_about_certificates()
{
    net::steady_timer timer{control_};
    while (!stopping_) {
        if (auto const tls = state_->current_tls()) {
            for (auto const& warning : tls->validity_warnings(std::chrono::system_clock::now()))
                spdlog::warn("{}", warning);
        }
        timer.expires_after(certificate_warning_period);
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (ec)
            co_return;
    }
}

void server::reload()
{
    notify_reloading();
    auto const source = state_->current_site()->cfg.source;
    try {
        auto next = std::make_shared<site const>(load_config(source));
        // Certificates given as files are read again; a credential is what systemd handed over
        // at start (systemd 252 does not renew it on reload). Either all loads, or nothing
        // changes.
        auto const running_tls = state_->current_tls();
        std::shared_ptr<tls_context const> next_tls;
        if (running_tls)
            next_tls = tls_context::load(next->cfg, running_tls.get());
        if (next->cfg.server.listen != state_->current_site()->cfg.server.listen ||
            next->cfg.tls.listen != state_->current_site()->cfg.tls.listen ||
            next->cfg.server.threads != state_->current_site()->cfg.server.threads)
            spdlog::warn("reload: listen and threads take effect only on restart");
        state_->replace_site(std::move(next));
        if (next_tls) {
            state_->replace_tls(std::move(next_tls));
            for (auto const& warning :
                 state_->current_tls()->validity_warnings(std::chrono::system_clock::now()))
                spdlog::warn("{}", warning);
        }
        spdlog::info("reload: configuration from {} in effect", source.string());
        last_reload_error_.clear();
    } catch (std::exception const& e) {
        last_reload_error_ = e.what();
        spdlog::error("reload failed, keeping the running configuration: {}", e.what());
    }
    notify_ready(status_line());
}

} // namespace hello_async
