#pragma once

#include "hello_async/http/unique_fd.hpp"
#include "hello_async/server/server_state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace hello_async {

/// Binds every address of `listen`; throws std::system_error naming the address that failed.
[[nodiscard]] std::vector<unique_fd>
bind_listeners(std::vector<boost::asio::ip::tcp::endpoint> const& listen);

/// The I/O threads, their acceptors, and the signal handling around them.
///
/// nginx's worker model inside one process: each thread runs its own io_context and accepts on
/// its own duplicate of every listening socket; a connection never leaves the thread that
/// accepted it, and threads share only atomics and the immutable site.
class server
{
  public:
    server(std::shared_ptr<site const> initial, std::vector<unique_fd> listeners);
    server(server const&) = delete;
    server& operator=(server const&) = delete;
    server(server&&) = delete;
    server& operator=(server&&) = delete;
    ~server();

    /// Serves until SIGTERM or SIGINT and the drain that follows; returns the exit status.
    int run();

  private:
    struct worker;

    void begin_drain();
    void reload();
    void finish_if_done();
    [[nodiscard]] std::string status_line() const;
    boost::asio::awaitable<void> watch_signals();
    boost::asio::awaitable<void> refresh_status();

    std::shared_ptr<server_state> state_;
    std::vector<unique_fd> listeners_;
    boost::asio::io_context control_{1};
    std::vector<std::unique_ptr<worker>> workers_;
    std::vector<std::thread> threads_;
    std::size_t finished_workers_{0};
    bool stopping_{false};
    boost::asio::signal_set signals_{control_};
    boost::asio::steady_timer grace_timer_{control_};
    std::string last_reload_error_;
    std::string listening_;
};

} // namespace hello_async
