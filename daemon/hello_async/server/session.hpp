#pragma once

#include "hello_async/server/server_state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace hello_async {

/// Serves one connection until the peer leaves, a limit or timeout is hit, or the server drains.
/// `thread` names the I/O thread (and its connection registry) the socket belongs to.
/// `remote` is the client's address, as accept returned it.
boost::asio::awaitable<void> run_session(boost::asio::ip::tcp::socket socket,
                                         boost::asio::ip::tcp::endpoint remote,
                                         std::shared_ptr<server_state> state,
                                         std::size_t thread);

} // namespace hello_async
