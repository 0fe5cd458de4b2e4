#pragma once

#include "hello_async/server/connection_registry.hpp"

#include <boost/asio/detail/reactor_op.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/system/error_code.hpp>

namespace hello_async {

enum class arrival_outcome : unsigned char
{
    arrived, ///< bytes were appended to the buffer
    /// As `arrived`, by the try start() makes at once: the bytes were there before the reactor
    /// reported the socket, so nothing orders them after the thread's other events.
    arrived_at_start,
    closed,    ///< the client closed its side
    cancelled, ///< the socket was cancelled or closed meanwhile
    failed,    ///< a read error, such as a reset
};

/// One try of an arrival_read: reads what `descriptor` holds through the thread's landing buffer
/// and appends it to `into`. not_done when nothing is there yet.
boost::asio::detail::reactor_op::status
read_arrival(int descriptor, boost::beast::flat_buffer& into, arrival_outcome& result);

/// Queues `read` on the reactor entry of `socket`, as a read.
void start_reactor_read(client_socket& socket, boost::asio::detail::reactor_op& read);

/// While it lives, start_reactor_read() on this thread finds the reactor of `io`, the context
/// the thread runs, without asking the context's service registry: that takes a lock and
/// compares type names, on every request of a keep-alive connection.
class thread_reactor
{
  public:
    explicit thread_reactor(boost::asio::io_context& io);
    ~thread_reactor();
    thread_reactor(thread_reactor const&) = delete;
    thread_reactor& operator=(thread_reactor const&) = delete;
    thread_reactor(thread_reactor&&) = delete;
    thread_reactor& operator=(thread_reactor&&) = delete;
};

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
/// `Host`, the connection it is a member of, gives its socket and buffer (arrival_socket(),
/// arrival_buffer()) and is told the outcome by `arrival_done(Host*, arrival_outcome, bool
/// destroying)`, once per start(). `destroying` is set when the io_context is being destroyed with
/// the read still queued: the host then only releases what it holds. A member rather than an
/// allocation of its own, and no more than a pointer besides Asio's operation: ten thousand idle
/// connections each have one.
///
/// This is an operation of Asio's reactor (`boost::asio::detail`): Boost is the distribution's
/// 1.81, and the tests run every keep-alive connection through it.
template <class Host>
class arrival_read : boost::asio::detail::reactor_op
{
  public:
    explicit arrival_read(Host& host)
        : reactor_op{boost::system::error_code{}, &arrival_read::perform_read,
                     &arrival_read::complete}
        , host_{&host}
    {}
    arrival_read(arrival_read const&) = delete;
    arrival_read& operator=(arrival_read const&) = delete;
    arrival_read(arrival_read&&) = delete;
    arrival_read& operator=(arrival_read&&) = delete;
    ~arrival_read() = default;

    /// Queues the read. Until it completes, the host's socket and buffer stay as they are.
    void start()
    {
        ec_ = {};
        bytes_transferred_ = 0;
        result_ = arrival_outcome::failed;
        starting_ = true;
        start_reactor_read(host_->arrival_socket(), *this);
        starting_ = false;
    }

  private:
    static status perform_read(reactor_op* base)
    {
        // The reactor hands back the operation start() gave it.
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-static-cast-downcast)
        auto& self = static_cast<arrival_read&>(*base);
        auto const done = read_arrival(self.host_->arrival_socket().native_handle(),
                                       self.host_->arrival_buffer(), self.result_);
        if (self.starting_ && self.result_ == arrival_outcome::arrived)
            self.result_ = arrival_outcome::arrived_at_start;
        return done;
    }

    static void complete(void* owner,
                         boost::asio::detail::operation* base,
                         boost::system::error_code const& /*ec*/,
                         std::size_t /*bytes*/)
    {
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-static-cast-downcast): as in perform_read()
        auto& self = static_cast<arrival_read&>(*base);
        // Asio reports a cancel, or the socket's closing, in the operation's error.
        auto result = self.result_;
        if (self.ec_) {
            result = self.ec_ == boost::asio::error::operation_aborted ? arrival_outcome::cancelled
                                                                       : arrival_outcome::failed;
        }
        // The host may destroy this operation: nothing of it is touched after the call.
        arrival_done(self.host_, result, owner == nullptr);
    }

    Host* host_;
    arrival_outcome result_{arrival_outcome::failed};
    bool starting_{false}; ///< start() is trying the read at once
};

} // namespace hello_async
