#include "hello_async/server/arrival_read.hpp"

#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/socket_ops.hpp>
#include <boost/asio/error.hpp>

#include <array>
#include <cerrno>
#include <cstring>
#include <new>
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

/// Where a wake's bytes land before they are copied to their connection: large enough for most
/// request heads, so that one read usually takes all there is. Only perform_read() touches it,
/// and it copies out before returning.
constexpr std::size_t landing_bytes = 16384;

} // namespace

arrival_read::arrival_read(completion on_done, void* context)
    : reactor_op{boost::system::error_code{}, &arrival_read::perform_read, &arrival_read::complete}
    , done_{on_done}
    , context_{context}
{}

void arrival_read::start(client_socket& socket, boost::beast::flat_buffer& into)
{
    auto& impl = socket_internals::implementation(socket);
    descriptor_ = impl.socket_;
    into_ = &into;
    ec_ = {};
    bytes_transferred_ = 0;
    result_ = outcome::failed;
    auto& reactor = net::use_service<net::detail::reactor>(
        static_cast<net::execution_context&>(socket.get_executor().context()));
    if ((impl.state_ & net::detail::socket_ops::internal_non_blocking) == 0 &&
        !net::detail::socket_ops::set_internal_non_blocking(impl.socket_, impl.state_, true, ec_))
    {
        reactor.post_immediate_completion(this, false);
        return;
    }
    reactor.start_op(net::detail::reactor::read_op, impl.socket_, impl.reactor_data_, this, false,
                     true);
}

boost::asio::detail::reactor_op::status arrival_read::perform_read(reactor_op* base)
{
    // The reactor hands back the operation start() gave it.
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-static-cast-downcast)
    auto& self = static_cast<arrival_read&>(*base);
    thread_local std::array<char, landing_bytes> landing;
    for (;;) {
        ssize_t const got = ::recv(self.descriptor_, landing.data(), landing.size(), MSG_DONTWAIT);
        if (got > 0) {
            auto const size = static_cast<std::size_t>(got);
            try {
                auto const into = self.into_->prepare(size);
                std::memcpy(into.data(), landing.data(), size);
                self.into_->commit(size);
            } catch (std::exception const&) {
                // The bytes are lost, so is the connection.
                return done;
            }
            self.bytes_transferred_ = size;
            self.result_ = outcome::arrived;
            // A short read took all there was: the reactor then waits for the next edge before
            // trying another read.
            return size < landing.size() ? done_and_exhausted : done;
        }
        if (got == 0) {
            self.result_ = outcome::closed;
            return done;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return not_done;
        return done; // failed, as set by start()
    }
}

void arrival_read::complete(void* owner,
                            boost::asio::detail::operation* base,
                            boost::system::error_code const& /*ec*/,
                            std::size_t /*bytes*/)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-static-cast-downcast): as in perform_read()
    auto& self = static_cast<arrival_read&>(*base);
    // Asio reports a cancel, or the socket's closing, in the operation's error.
    auto result = self.result_;
    if (self.ec_)
        result = self.ec_ == net::error::operation_aborted ? outcome::cancelled : outcome::failed;
    // The callee may destroy this operation: nothing of it is touched after the call.
    self.done_(self.context_, result, owner == nullptr);
}

} // namespace hello_async
