#pragma once

#include "hello_async/server/tls_context.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>

namespace hello_async {

struct connection;

/// A client's socket, bound to its thread's io_context rather than to a polymorphic executor:
/// 40 bytes instead of 88, and smaller wait operations, for each of ten thousand connections.
using client_socket =
    boost::asio::ip::tcp::socket::rebind_executor<boost::asio::io_context::executor_type>::other;

/// Told when a connection's deadline has passed, just before the sweep closes it: a protocol
/// with something to say first (HTTP/2's GOAWAY) says it then, without waiting.
class deadline_listener
{
  public:
    virtual void last_words(connection& conn) = 0;

    virtual ~deadline_listener() = default;

  protected:
    deadline_listener() = default;
    deadline_listener(deadline_listener const&) = default;
    deadline_listener& operator=(deadline_listener const&) = default;
    deadline_listener(deadline_listener&&) = default;
    deadline_listener& operator=(deadline_listener&&) = default;
};

/// One client connection, as its thread's registry sees it.
struct connection
{
    explicit connection(client_socket s)
        : socket{std::move(s)}
    {}
    connection(connection const&) = delete;
    connection& operator=(connection const&) = delete;
    connection(connection&&) = delete;
    connection& operator=(connection&&) = delete;
    ~connection() = default;

    client_socket socket;
    /// Set on a TLS connection: every byte then goes through it. It names the socket's
    /// descriptor, so it is used only while the socket is open (the sweep may close it).
    ssl_handle tls;
    /// The registry's sweep closes the socket once this passes; every read and write moves it.
    std::chrono::steady_clock::time_point deadline{std::chrono::steady_clock::time_point::max()};
    /// Between requests: a drain may close the connection without losing a request.
    bool idle{true};
    /// Set while a protocol wants its last words before a timeout closes the connection.
    deadline_listener* listener{nullptr};

  private:
    friend class connection_registry;
    /// The registry is a list threaded through its connections: listing one allocates nothing.
    connection* registry_prev_{nullptr};
    connection* registry_next_{nullptr};
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

    /// The thread's deadline sweep timer; destroyed before its io_context.
    void attach_timer(boost::asio::steady_timer& sweep) { timer_ = &sweep; }

    void insert(connection* conn);
    void erase(connection* conn);

    /// Calls `visit` with every connection; `visit` may close the one it is given, and nothing
    /// else.
    template <class Visit>
    void for_each(Visit visit) const
    {
        for (auto* conn = first_; conn != nullptr;) {
            auto* const next = conn->registry_next_;
            visit(*conn);
            conn = next;
        }
    }

  private:
    void arm(std::chrono::steady_clock::time_point when);
    void sweep();

    connection* first_{nullptr};
    boost::asio::steady_timer* timer_{nullptr};
    bool armed_{false};
};

} // namespace hello_async
