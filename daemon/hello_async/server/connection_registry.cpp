#include "hello_async/server/connection_registry.hpp"

#include <algorithm>

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
            if (conn->listener != nullptr)
                conn->listener->last_words(*conn);
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

} // namespace hello_async
