#include "hello_async/server/connection_registry.hpp"

#include <algorithm>
#include <linux/sockios.h>
#include <sys/ioctl.h>

namespace hello_async {

using steady = std::chrono::steady_clock;

namespace {

/// Closes a connection whose deadline has passed. One with bytes the kernel has not yet sent (the
/// client stopped reading) is reset: its FIN would queue behind those bytes and never go out, and
/// the socket would stay in the kernel holding them. Otherwise the close is an orderly one.
void close_timed_out(client_socket& socket)
{
    boost::system::error_code ignored;
    int unsent = 0;
    if (::ioctl(socket.native_handle(), SIOCOUTQNSD, &unsent) == 0 && unsent > 0)
        socket.set_option(boost::asio::socket_base::linger{true, 0}, ignored);
    socket.close(ignored);
}

} // namespace

void connection_registry::insert(connection* conn)
{
    conn->registry_prev_ = nullptr;
    conn->registry_next_ = first_;
    if (first_ != nullptr)
        first_->registry_prev_ = conn;
    first_ = conn;
    if (!armed_)
        arm(steady::now() + sweep_period_max);
}

void connection_registry::erase(connection* conn)
{
    if (conn->registry_prev_ != nullptr) {
        conn->registry_prev_->registry_next_ = conn->registry_next_;
    } else {
        first_ = conn->registry_next_;
    }
    if (conn->registry_next_ != nullptr)
        conn->registry_next_->registry_prev_ = conn->registry_prev_;
    conn->registry_prev_ = nullptr;
    conn->registry_next_ = nullptr;
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
    for_each([&](connection& conn) {
        if (conn.deadline <= now) {
            if (conn.listener != nullptr)
                conn.listener->last_words(conn);
            // The session's pending operation ends with an error, and the session with it.
            close_timed_out(conn.socket);
        } else {
            next = std::min(next, conn.deadline);
        }
    });
    if (first_ != nullptr)
        arm(next);
}

} // namespace hello_async
