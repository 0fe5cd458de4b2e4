#pragma once

#include "hello_async/http/unique_fd.hpp"
#include "hello_async/server/server_state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace hello_async {

/// A listening socket, whether its clients speak TLS, and whether systemd passed it (and keeps
/// it open when the daemon exits).
struct listening_socket
{
    unique_fd fd;
    bool tls{false};
    bool from_manager{false};
};

/// Binds every address of `listen`; throws std::system_error naming the address that failed.
[[nodiscard]] std::vector<unique_fd>
bind_listeners(std::vector<boost::asio::ip::tcp::endpoint> const& listen);

/// The sockets to serve: those systemd passed (named server.socket_name or tls.socket_name;
/// others are warned about), else server.listen and tls.listen bound.
[[nodiscard]] std::vector<listening_socket> open_listeners(config const& cfg);

/// The certificates the TLS sockets among `listeners` present; null when none speaks TLS.
/// Throws config_error naming the file, line and key of a certificate that cannot be used.
[[nodiscard]] std::shared_ptr<tls_context const>
load_tls_for(config const& cfg, std::vector<listening_socket> const& listeners);

/// The I/O threads, their acceptors, and the signal handling around them.
///
/// nginx's worker model inside one process: each thread runs its own io_context and accepts on
/// its own duplicate of every listening socket; a connection never leaves the thread that
/// accepted it, and threads share only atomics and the immutable site.
class server
{
  public:
    /// `tls`: the certificates for the TLS sockets among `listeners`; null when there are none.
    server(std::shared_ptr<site const> initial,
           std::vector<listening_socket> listeners,
           std::shared_ptr<tls_context const> tls);
    server(server const&) = delete;
    server& operator=(server const&) = delete;
    server(server&&) = delete;
    server& operator=(server&&) = delete;
    ~server();

    /// Serves until SIGTERM or SIGINT and the drain that follows; returns the exit status.
    int run();

  private:
    struct worker;

    void start_watchdog();
    void start_control_tasks();
    /// Blocks an I/O thread (the last) or this control thread for two seconds: how the tests
    /// make a thread stall for the watchdog to notice (SIGUSR1, SIGUSR2 with test hooks built).
    void stall_for_a_test(bool io_thread);
    void begin_drain(std::string_view why);
    void reload();
    void finish_if_done();
    [[nodiscard]] std::string status_line() const;
    boost::asio::awaitable<void> watch_signals();
    boost::asio::awaitable<void> refresh_status();
    /// Every 10 s in which log entries were dropped: a warning saying how many.
    boost::asio::awaitable<void> report_dropped_entries();
    boost::asio::awaitable<void> warn_about_certificates();
    boost::asio::awaitable<void> exit_when_idle();
    /// Sends WATCHDOG=1 every `period` while every I/O thread has beaten within it.
    boost::asio::awaitable<void> watch_threads(std::chrono::milliseconds period);
    /// How long until server.idle_exit ends the daemon; nullopt while a connection is open, or
    /// when it does not apply (off, or sockets the daemon bound itself).
    [[nodiscard]] std::optional<std::chrono::steady_clock::duration> idle_exit_countdown() const;
    [[nodiscard]] bool serves_tls() const;

    std::shared_ptr<server_state> state_;
    std::vector<listening_socket> listeners_;
    boost::asio::io_context control_{1};
    std::vector<std::unique_ptr<worker>> workers_;
    std::vector<std::thread> threads_;
    std::size_t finished_workers_{0};
    bool stopping_{false};
    bool sockets_from_manager_{false};
    boost::asio::signal_set signals_{control_};
    boost::asio::steady_timer grace_timer_{control_};
    std::string last_reload_error_;
    std::string listening_;
};

} // namespace hello_async
