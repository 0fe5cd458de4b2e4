#include "hello_async/response.hpp"

#include "hello_async/decimal.hpp"
#include "hello_async/http_date.hpp"

#include <boost/beast/http/status.hpp>

#include <ostream>
#include <tuple>

namespace hello_async {

std::string_view server_token()
{
    return "hello-async/" HELLO_ASYNC_VERSION;
}

void append_response_head(std::string& out, response_head const& head)
{
    namespace http = boost::beast::http;
    out += "HTTP/1.1 ";
    out += decimal{head.status}.text();
    out += ' ';
    auto const reason = http::obsolete_reason(static_cast<http::status>(head.status));
    out.append(reason.data(), reason.size());
    out += "\r\nServer: ";
    out += server_token();
    out += "\r\nDate: ";
    out += current_http_date();
    if (!head.content_type.empty()) {
        out += "\r\nContent-Type: ";
        out += head.content_type;
    }
    if (!head.omit_content_length) {
        out += "\r\nContent-Length: ";
        out += decimal{head.content_length}.text();
    }
    if (!head.allow.empty()) {
        out += "\r\nAllow: ";
        out += head.allow;
    }
    if (!head.location.empty()) {
        out += "\r\nLocation: ";
        out += head.location;
    }
    auto add = [&out](std::string_view name, std::string_view value) {
        if (value.empty())
            return;
        out += "\r\n";
        out += name;
        out += ": ";
        out += value;
    };
    add("ETag", head.etag);
    add("Last-Modified", head.last_modified);
    if (head.accept_ranges)
        out += "\r\nAccept-Ranges: bytes";
    add("Content-Range", head.content_range);
    add("Content-Encoding", head.content_encoding);
    if (head.vary_accept_encoding)
        out += "\r\nVary: Accept-Encoding";
    add("Cache-Control", head.cache_control);
    // RFC 9112 §9.3: an HTTP/1.0 client keeps the connection only if told it may.
    if (!head.keep_alive)
        out += "\r\nConnection: close";
    else if (head.client_is_http10)
        out += "\r\nConnection: keep-alive";
    out += "\r\n\r\n";
}

} // namespace hello_async
