#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace hello_async::testing {

/// One parsed response.
struct http_response
{
    unsigned status{0};
    std::map<std::string, std::string> headers; ///< lower-case names
    std::string body;
    [[nodiscard]] std::string header(std::string const& name) const
    {
        auto const it = headers.find(name);
        return it == headers.end() ? std::string{} : it->second;
    }
    [[nodiscard]] bool has(std::string const& name) const { return headers.contains(name); }
};

/// What arrived on a connection until the server closed it, or until the client gave up.
struct received_until_close
{
    std::string bytes;
    bool closed{false}; ///< the server closed (EOF or reset); false: the client timed out
};

/// Parses one response from `buffer`, calling `receive_some` (which appends to it and returns
/// 0 at EOF) while it holds too little; what follows the response stays in the buffer.
[[nodiscard]] http_response read_response_from(boost::beast::flat_buffer& buffer,
                                               std::function<std::size_t()> const& receive_some,
                                               bool head_request = false);

/// "GET /path HTTP/1.1" with Host and the given extra header lines (each ending in \r\n).
[[nodiscard]] std::string
request(std::string_view method, std::string_view target, std::string_view extra_headers = {});

/// A blocking HTTP client over a real TCP connection, with receive timeouts so that a test
/// fails instead of hanging.
class http_client
{
  public:
    explicit http_client(unsigned short port,
                         std::string const& host = "127.0.0.1",
                         std::chrono::seconds timeout = std::chrono::seconds{10});

    void send(std::string_view bytes);
    /// Reads one response; `head_request` when it answers a HEAD (no body follows).
    [[nodiscard]] http_response read_response(bool head_request = false);
    /// Everything until the server closes, or the timeout passes: the result says which.
    [[nodiscard]] received_until_close read_until_close();
    /// True when the server has closed the connection (EOF or reset) rather than sending more
    /// or staying silent until the timeout.
    [[nodiscard]] bool peer_closed();
    /// Sends one request and reads its response.
    [[nodiscard]] http_response get(std::string_view target, std::string_view extra = {});

    boost::asio::ip::tcp::socket& socket() { return socket_; }

  private:
    /// Appends what the server sends next to buffer_; 0 at EOF; throws on timeout or error.
    std::size_t receive_some();

    boost::asio::io_context ioc_;
    boost::asio::ip::tcp::socket socket_;
    boost::beast::flat_buffer buffer_;
    std::chrono::seconds timeout_;
};

} // namespace hello_async::testing
