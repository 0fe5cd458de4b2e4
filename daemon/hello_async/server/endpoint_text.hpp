#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <optional>
#include <string>

namespace hello_async {

/// "127.0.0.1:5555" or "[::1]:5555"; an IPv4 client of a dual-stack socket appears as IPv4.
[[nodiscard]] std::string endpoint_text(boost::asio::ip::tcp::endpoint const& endpoint);

/// The address a socket is bound to (getsockname); nullopt when the call fails.
[[nodiscard]] std::optional<boost::asio::ip::tcp::endpoint> local_endpoint_of(int fd);

} // namespace hello_async
