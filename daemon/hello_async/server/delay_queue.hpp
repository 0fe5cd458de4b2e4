#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <map>

namespace hello_async {

/// The requests of one I/O thread that wait out a route's delay, on one timer: a timer and its
/// wait operation for each of ten thousand sleeping requests would cost far more. Touched only
/// from its own thread, so it needs no lock.
class delay_queue
{
  public:
    /// The thread's timer for delays; destroyed before its io_context, and after abandon().
    void attach_timer(boost::asio::steady_timer& timer) { timer_ = &timer; }

    using handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

    /// Completes at `when`.
    template <class CompletionToken>
    auto async_wait_until(std::chrono::steady_clock::time_point when, CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code)>(
            [this, when](auto h) { add(when, handler{std::move(h)}); }, token);
    }

    /// Destroys the waits still pending, and the sessions behind them; for the end of the
    /// thread, while its io_context still exists.
    void abandon();

  private:
    void add(std::chrono::steady_clock::time_point when, handler h);
    void arm();
    void wake_due();

    std::multimap<std::chrono::steady_clock::time_point, handler> waiting_;
    boost::asio::steady_timer* timer_{nullptr};
};

} // namespace hello_async
