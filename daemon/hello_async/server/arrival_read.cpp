#include "hello_async/server/arrival_read.hpp"

#include "hello_async/server/read_landing.hpp"

#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/socket_ops.hpp>

#include <cerrno>
#include <cstring>
#include <exception>
#include <sys/socket.h>

namespace hello_async {
namespace {

namespace net = boost::asio;

/// A socket's reactor registration, which `basic_socket` keeps protected.
struct socket_internals : client_socket
{
    static auto& implementation(client_socket& socket)
    {
        return (socket.*&socket_internals::impl_).get_implementation();
    }
};

struct known_reactor
{
    net::execution_context* context{nullptr};
    net::detail::reactor* reactor{nullptr};
};

// Set and cleared by thread_reactor only, on its own thread.
thread_local known_reactor this_thread_reactor; // NOLINT(*-avoid-non-const-global-variables)

net::detail::reactor& reactor_of(net::execution_context& context)
{
    if (this_thread_reactor.context == &context)
        return *this_thread_reactor.reactor;
    return net::use_service<net::detail::reactor>(context);
}

} // namespace

thread_reactor::thread_reactor(net::io_context& io)
{
    auto& context = static_cast<net::execution_context&>(io);
    this_thread_reactor = {&context, &net::use_service<net::detail::reactor>(context)};
}

thread_reactor::~thread_reactor()
{
    this_thread_reactor = {};
}

net::detail::reactor_op::status
read_arrival(int descriptor, boost::beast::flat_buffer& into, arrival_outcome& result)
{
    using status = net::detail::reactor_op::status;
    // Copied out before returning, as the landing's other readers expect.
    auto const landing = thread_read_landing();
    if (landing.empty()) {
        result = arrival_outcome::failed; // no memory to read into
        return status::done;
    }
    for (;;) {
        ssize_t const got = ::recv(descriptor, landing.data(), landing.size(), MSG_DONTWAIT);
        if (got > 0) {
            auto const size = static_cast<std::size_t>(got);
            try {
                auto const room = into.prepare(size);
                std::memcpy(room.data(), landing.data(), size);
                into.commit(size);
            } catch (std::exception const&) {
                result = arrival_outcome::failed; // the bytes are lost, so is the connection
                return status::done;
            }
            result = arrival_outcome::arrived;
            // A short read took all there was: the reactor then waits for the next edge before
            // trying another read.
            return size < landing.size() ? status::done_and_exhausted : status::done;
        }
        if (got == 0) {
            result = arrival_outcome::closed;
            return status::done;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return status::not_done;
        result = arrival_outcome::failed;
        return status::done;
    }
}

void start_reactor_read(client_socket& socket, net::detail::reactor_op& read)
{
    auto& impl = socket_internals::implementation(socket);
    auto& reactor =
        reactor_of(static_cast<net::execution_context&>(socket.get_executor().context()));
    if ((impl.state_ & net::detail::socket_ops::internal_non_blocking) == 0 &&
        !net::detail::socket_ops::set_internal_non_blocking(impl.socket_, impl.state_, true,
                                                            read.ec_))
    {
        reactor.post_immediate_completion(&read, false);
        return;
    }
    reactor.start_op(net::detail::reactor::read_op, impl.socket_, impl.reactor_data_, &read, false,
                     true);
}

} // namespace hello_async
