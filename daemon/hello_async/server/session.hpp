#pragma once

#include "hello_async/server/connection_registry.hpp"
#include "hello_async/server/server_state.hpp"
#include "hello_async/server/tls_context.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace hello_async {

/// Serves one connection, on the socket's own executor, until the peer leaves, a limit or
/// timeout is hit, or the server drains. `thread` names the I/O thread (and its connection
/// registry) the socket belongs to. `remote` is the client's address, as accept returned it.
/// `tls`: the certificates and settings of a connection to a TLS port (null for plain HTTP),
/// kept as long as it lasts.
void start_session(client_socket socket,
                   boost::asio::ip::tcp::endpoint const& remote,
                   std::shared_ptr<server_state> state,
                   std::size_t thread,
                   std::shared_ptr<tls_context const> tls);

} // namespace hello_async
