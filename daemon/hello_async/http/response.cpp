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
    for_each_response_field(head, [&writer](field_name name, std::string_view value) {
        writer.put("\r\n");
        writer.put(name.http1);
        writer.put(": ");
        writer.put(value);
    });
    // RFC 9112 §9.3: an HTTP/1.0 client keeps the connection only if told it may.
    if (!head.keep_alive) {
        writer.put("\r\nConnection: close");
    } else if (head.client_is_http10) {
        writer.put("\r\nConnection: keep-alive");
    }
    writer.put("\r\n\r\n");
}

} // namespace hello_async
