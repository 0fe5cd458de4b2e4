#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <map>
#include <unordered_set>

namespace hello_async {

/// One client connection, as its thread's registry sees it.
struct connection
{
    explicit connection(boost::asio::ip::tcp::socket s)
        : socket{std::move(s)}
    {}

    boost::asio::ip::tcp::socket socket;
    /// The registry's sweep closes the socket once this passes; every read and write moves it.
    std::chrono::steady_clock::time_point deadline{std::chrono::steady_clock::time_point::max()};
    /// Between requests: a drain may close the connection without losing a request.
    bool idle{true};
};

/// The connections of one I/O thread, and the one timer that enforces all their deadlines.
///
/// A timer per connection would cost each of ten thousand waiting clients a timer, a wait
/// operation and a coroutine to run it. Instead one sweep per thread closes every connection
/// whose deadline has passed, then sleeps until the earliest remaining deadline, but never
/// longer than `sweep_period_max`, since a deadline set later may be earlier. A deadline is
/// thus enforced at most that much late. With no connections the timer is not armed: an idle
/// daemon does not wake up.
///
/// Touched only from its own thread, so it needs no lock.
class connection_registry
{
  public:
    static constexpr std::chrono::milliseconds sweep_period_max{250};

    /// The thread's timers, one for the deadline sweep and one for delays; destroyed before
    /// their io_context, and after abandon_delays().
    void attach_timers(boost::asio::steady_timer& sweep, boost::asio::steady_timer& delays)
    {
        timer_ = &sweep;
        delay_timer_ = &delays;
    }

    using delay_handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

    /// Completes at `when`. A route's delay waits here: one timer for all the thread's delayed
    /// requests, rather than a timer and its wait operation for each of ten thousand of them.
    template <class CompletionToken>
    auto async_wait_until(std::chrono::steady_clock::time_point when, CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code)>(
            [this, when](auto handler) { add_delay(when, delay_handler{std::move(handler)}); },
            token);
    }

    /// Destroys the delayed waits still pending, and the sessions behind them; for the end of
    /// the thread, while its io_context still exists.
    void abandon_delays();

    void insert(connection* conn);
    void erase(connection* conn) { connections_.erase(conn); }

    [[nodiscard]] auto begin() const { return connections_.begin(); }
    [[nodiscard]] auto end() const { return connections_.end(); }
    [[nodiscard]] bool empty() const { return connections_.empty(); }

  private:
    void arm(std::chrono::steady_clock::time_point when);
    void sweep();
    void add_delay(std::chrono::steady_clock::time_point when, delay_handler handler);
    void arm_delays();
    void wake_delayed();

    std::unordered_set<connection*> connections_;
    boost::asio::steady_timer* timer_{nullptr};
    bool armed_{false};
    std::multimap<std::chrono::steady_clock::time_point, delay_handler> delayed_;
    boost::asio::steady_timer* delay_timer_{nullptr};
};

} // namespace hello_async
