#include "hello_async/http/response.hpp"

#include "hello_async/http/decimal.hpp"
#include "hello_async/http/http_date.hpp"
#include "hello_async/http/string_writer.hpp"

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
    // The status line, Server, Date, and every other field's name and separators, all together;
    // the values come on top. Too little would only cost the writer a second resize.
    constexpr std::size_t fixed_parts = 400;
    string_writer writer{out, fixed_parts + head.content_type.size() + head.allow.size() +
                                  head.location.size() + head.etag.size() +
                                  head.last_modified.size() + head.content_range.size() +
                                  head.content_encoding.size() + head.cache_control.size() +
                                  head.retry_after.size() + head.strict_transport_security.size()};
    writer.put("HTTP/1.1 ");
    writer.put(decimal{head.status}.text());
    writer.put(' ');
    auto const reason = http::obsolete_reason(static_cast<http::status>(head.status));
    writer.put({reason.data(), reason.size()});
    writer.put("\r\nServer: ");
    writer.put(server_token());
    writer.put("\r\nDate: ");
    writer.put(current_http_date());
    auto add = [&writer](std::string_view name, std::string_view value) {
        if (value.empty())
            return;
        writer.put("\r\n");
        writer.put(name);
        writer.put(": ");
        writer.put(value);
    };
    add("Content-Type", head.content_type);
    if (!head.omit_content_length) {
        writer.put("\r\nContent-Length: ");
        writer.put(decimal{head.content_length}.text());
    }
    add("Allow", head.allow);
    add("Location", head.location);
    add("ETag", head.etag);
    add("Last-Modified", head.last_modified);
    if (head.accept_ranges)
        writer.put("\r\nAccept-Ranges: bytes");
    add("Content-Range", head.content_range);
    add("Content-Encoding", head.content_encoding);
    if (head.vary_accept_encoding)
        writer.put("\r\nVary: Accept-Encoding");
    add("Cache-Control", head.cache_control);
    add("Retry-After", head.retry_after);
    add("Strict-Transport-Security", head.strict_transport_security);
    // RFC 9112 §9.3: an HTTP/1.0 client keeps the connection only if told it may.
    if (!head.keep_alive) {
        writer.put("\r\nConnection: close");
    } else if (head.client_is_http10) {
        writer.put("\r\nConnection: keep-alive");
    }
    writer.put("\r\n\r\n");
}

} // namespace hello_async
