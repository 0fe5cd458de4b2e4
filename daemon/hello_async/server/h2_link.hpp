#pragma once

#include "hello_async/server/connection_registry.hpp"
#include "hello_async/server/server_state.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>

namespace hello_async {

/// Serves HTTP/2 on a connection (after ALPN h2, or the h2c preface on a plain port) until the
/// client leaves, a timeout or a protocol error ends it, or the server drains; `already_read`
/// is what the client sent before the protocol was known. Every stream is answered by answer(),
/// as HTTP/1.1 requests are. True when the connection should close gently (the client may
/// still be sending: linger), false when it may close at once. The caller closes it.
[[nodiscard]] boost::asio::awaitable<bool> serve_h2(connection& conn,
                                                    std::shared_ptr<server_state> state,
                                                    std::size_t thread,
                                                    std::string const& peer,
                                                    std::string already_read);

} // namespace hello_async
