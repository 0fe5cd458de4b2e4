#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/time.h>

namespace hello_async::testing {

namespace net = boost::asio;
namespace http = boost::beast::http;

std::string request(std::string_view method, std::string_view target, std::string_view extra)
{
    std::string out{method};
    out += ' ';
    out += target;
    out += " HTTP/1.1\r\nHost: localhost\r\n";
    out += extra;
    out += "\r\n";
    return out;
}

http_client::http_client(unsigned short port, std::string const& host, std::chrono::seconds timeout)
    : socket_{ioc_}
    , timeout_{timeout}
{
    net::ip::tcp::endpoint const endpoint{net::ip::make_address(host), port};
    socket_.connect(endpoint);
    // Writes block at most this long (a server that never reads must fail the test).
    timeval tv{};
    tv.tv_sec = timeout.count();
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void http_client::send(std::string_view bytes)
{
    net::write(socket_, net::buffer(bytes));
}

std::size_t http_client::receive_some()
{
    // Asio's blocking reads retry EAGAIN forever, ignoring SO_RCVTIMEO: wait with poll instead.
    pollfd p{socket_.native_handle(), POLLIN, 0};
    auto const ready = ::poll(&p, 1, static_cast<int>(timeout_.count() * 1000));
    if (ready == 0)
        throw std::runtime_error{"timed out waiting for the server"};
    auto buf = buffer_.prepare(16 * 1024);
    auto const n = ::recv(socket_.native_handle(), buf.data(), buf.size(), 0);
    if (n < 0)
        throw std::runtime_error{"recv failed: " + std::string{std::strerror(errno)}};
    buffer_.commit(static_cast<std::size_t>(n));
    return static_cast<std::size_t>(n);
}

http_response http_client::read_response(bool head_request)
{
    return read_response_from(
        buffer_, [this] { return receive_some(); }, head_request);
}

http_response read_response_from(boost::beast::flat_buffer& buffer,
                                 std::function<std::size_t()> const& receive_some,
                                 bool head_request)
{
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(head_request);
    parser.eager(true);
    while (!parser.is_done()) {
        if (buffer.size() > 0) {
            boost::system::error_code ec;
            auto const used = parser.put(buffer.data(), ec);
            buffer.consume(used);
            if (ec && ec != http::error::need_more)
                throw boost::system::system_error{ec, "bad response"};
            if (parser.is_done() || (used > 0 && !ec))
                continue;
        }
        if (receive_some() == 0)
            throw std::runtime_error{"server closed the connection before a whole response"};
    }
    auto const& msg = parser.get();
    http_response out;
    out.status = msg.result_int();
    for (auto const& field : msg) {
        std::string name{field.name_string()};
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        out.headers[name] = std::string{field.value()};
    }
    out.body = msg.body();
    return out;
}

received_until_close http_client::read_until_close()
{
    received_until_close out;
    for (;;) {
        try {
            if (receive_some() == 0) {
                out.closed = true;
                break;
            }
        } catch (std::runtime_error const& e) {
            // A reset is the server closing too; a timeout is not.
            out.closed = std::string_view{e.what()}.find("Connection reset") != std::string::npos;
            break;
        }
    }
    out.bytes.assign(static_cast<char const*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    return out;
}

bool http_client::peer_closed()
{
    try {
        return receive_some() == 0;
    } catch (std::runtime_error const& e) {
        return std::string_view{e.what()}.find("Connection reset") != std::string::npos;
    }
}

http_response http_client::get(std::string_view target, std::string_view extra)
{
    send(request("GET", target, extra));
    return read_response();
}

} // namespace hello_async::testing
