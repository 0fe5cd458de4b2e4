#include "hello_async/connection_registry.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <vector>

namespace hello_async {

using steady = std::chrono::steady_clock;

void connection_registry::insert(connection* conn)
{
    connections_.insert(conn);
    if (!armed_)
        arm(steady::now() + sweep_period_max);
}

void connection_registry::arm(steady::time_point when)
{
    if (timer_ == nullptr)
        return;
    armed_ = true;
    timer_->expires_at(when);
    timer_->async_wait([this](boost::system::error_code ec) {
        armed_ = false;
        if (!ec)
            sweep();
    });
}

void connection_registry::sweep()
{
    auto const now = steady::now();
    auto next = now + sweep_period_max;
    for (auto* conn : connections_) {
        if (conn->deadline <= now) {
            // The session's pending operation ends with an error, and the session with it.
            boost::system::error_code ignored;
            conn->socket.close(ignored);
        } else {
            next = std::min(next, conn->deadline);
        }
    }
    if (!connections_.empty())
        arm(next);
}

void connection_registry::add_delay(steady::time_point when, delay_handler handler)
{
    bool const earliest = delayed_.empty() || when < delayed_.begin()->first;
    delayed_.emplace(when, std::move(handler));
    if (earliest)
        arm_delays();
}

void connection_registry::arm_delays()
{
    if (delay_timer_ == nullptr || delayed_.empty())
        return;
    // Re-arming cancels the wait in flight; its handler sees operation_aborted and leaves.
    delay_timer_->expires_at(delayed_.begin()->first);
    delay_timer_->async_wait([this](boost::system::error_code ec) {
        if (!ec)
            wake_delayed();
    });
}

void connection_registry::wake_delayed()
{
    auto const now = steady::now();
    auto const due_end = delayed_.upper_bound(now);
    std::vector<delay_handler> due;
    for (auto it = delayed_.begin(); it != due_end; ++it)
        due.push_back(std::move(it->second));
    delayed_.erase(delayed_.begin(), due_end);
    arm_delays();
    // Posted, not called: a resumed session must not run inside this loop.
    auto const executor = delay_timer_->get_executor();
    for (auto& handler : due) {
        boost::asio::post(executor, [handler = std::move(handler)]() mutable {
            std::move(handler)(boost::system::error_code{});
        });
    }
}

void connection_registry::abandon_delays()
{
    auto abandoned = std::move(delayed_);
    delayed_.clear();
    abandoned.clear(); // destroys the waiting sessions' frames
}

} // namespace hello_async
