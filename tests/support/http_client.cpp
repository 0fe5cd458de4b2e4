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
{
    net::ip::tcp::endpoint const endpoint{net::ip::make_address(host), port};
    socket_.connect(endpoint);
    timeval tv{};
    tv.tv_sec = timeout.count();
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void http_client::send(std::string_view bytes)
{
    net::write(socket_, net::buffer(bytes));
}

http_response http_client::read_response(bool head_request)
{
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(head_request);
    http::read(socket_, buffer_, parser);
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

std::string http_client::read_until_close()
{
    std::string out{static_cast<char const*>(buffer_.data().data()), buffer_.size()};
    buffer_.consume(buffer_.size());
    std::array<char, 4096> chunk{};
    for (;;) {
        boost::system::error_code ec;
        auto const n = socket_.read_some(net::buffer(chunk), ec);
        out.append(chunk.data(), n);
        if (ec)
            break;
    }
    return out;
}

bool http_client::peer_closed()
{
    std::array<char, 1> byte{};
    boost::system::error_code ec;
    static_cast<void>(socket_.read_some(net::buffer(byte), ec));
    return ec == net::error::eof || ec == net::error::connection_reset;
}

http_response http_client::get(std::string_view target, std::string_view extra)
{
    send(request("GET", target, extra));
    return read_response();
}

} // namespace hello_async::testing
