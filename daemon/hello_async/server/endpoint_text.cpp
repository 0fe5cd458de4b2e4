#include "hello_async/server/endpoint_text.hpp"

#include <algorithm>
#include <cstring>
#include <sys/socket.h>

namespace hello_async {

std::string endpoint_text(boost::asio::ip::tcp::endpoint const& endpoint)
{
    namespace ip = boost::asio::ip;
    auto address = endpoint.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        address = ip::make_address_v4(ip::v4_mapped, address.to_v6());
    auto text = address.is_v6() ? "[" + address.to_string() + "]:" : address.to_string() + ":";
    return text + std::to_string(endpoint.port());
}

std::optional<boost::asio::ip::tcp::endpoint> local_endpoint_of(int fd)
{
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    // The sockets API takes every address family through sockaddr.
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0)
        return std::nullopt;
    boost::asio::ip::tcp::endpoint endpoint;
    std::memcpy(endpoint.data(), &storage, std::min<std::size_t>(length, endpoint.capacity()));
    endpoint.resize(length);
    return endpoint;
}

} // namespace hello_async
