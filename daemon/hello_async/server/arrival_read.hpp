#pragma once

#include "hello_async/server/connection_registry.hpp"

#include <boost/asio/detail/reactor_op.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/system/error_code.hpp>

namespace hello_async {

/// How a plain connection waits for its next request: a read queued on Asio's reactor that holds
/// no buffer while it waits.
///
/// Why not `async_wait`: Asio re-arms the descriptor for every wait (EPOLL_CTL_MOD), so that
/// bytes already there are reported too, and a busy keep-alive connection paid that system call
/// on every request. A read needs none: the reactor tries it at once when the descriptor may
/// have data, and otherwise leaves it on the edge-triggered registration the socket already has.
/// Why not `async_read_some`: its buffer is fixed when it starts, and ten thousand idle clients
/// would each hold one. This read lands in its thread's buffer and copies what came into the
/// connection's own buffer the moment it comes, before anything else runs on the thread.
///
/// This is an operation of Asio's reactor (`boost::asio::detail`): Boost is the distribution's
/// 1.81, and the tests run every keep-alive connection through it.
class arrival_read : boost::asio::detail::reactor_op
{
  public:
    enum class outcome : unsigned char
    {
        arrived,   ///< bytes were appended to the buffer
        closed,    ///< the client closed its side
        cancelled, ///< the socket was cancelled or closed meanwhile
        failed,    ///< a read error, such as a reset
    };

    /// Called once per start(), on the socket's thread. `destroying` is set when the io_context
    /// is being destroyed with the read still queued: the callee then only releases what it
    /// holds.
    using completion = void (*)(void* context, outcome result, bool destroying);

    arrival_read(completion on_done, void* context);

    /// Queues the read. Until it completes, `socket` and `into` must stay as they are.
    void start(client_socket& socket, boost::beast::flat_buffer& into);

  private:
    static status perform_read(reactor_op* base);
    static void complete(void* owner,
                         boost::asio::detail::operation* base,
                         boost::system::error_code const& ec,
                         std::size_t bytes);

    completion done_;
    void* context_;
    int descriptor_{-1};
    boost::beast::flat_buffer* into_{nullptr};
    outcome result_{outcome::failed};
};

} // namespace hello_async
