// RFC 9110 semantics over real TCP: validators, preconditions, ranges, content codings, methods.
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/http_client.hpp"
#include "support/site_under_test.hpp"

namespace hello_async::testing {
namespace {

using namespace std::chrono_literals;

class conformance : public site_under_test
{
  protected:
    /// Sends `bytes` on a fresh connection and reads one response, which must come within 3 s
    /// (far sooner than any timeout of the daemon's) and end the connection: the client then
    /// half-closes, and the daemon, lingering for more input, closes at once.
    http_response answered_then_closed(std::string const& bytes)
    {
        http_client client{port_, "127.0.0.1", 3s};
        client.send(bytes);
        http_response r;
        try {
            r = client.read_response();
        } catch (std::exception const& e) {
            ADD_FAILURE() << "no answer at once to:\n" << bytes << "\n(" << e.what() << ")";
            return r;
        }
        EXPECT_EQ(r.header("connection"), "close") << bytes;
        client.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send);
        EXPECT_TRUE(client.peer_closed()) << bytes;
        return r;
    }
};

/// One part of a multipart/byteranges body, parsed back.
struct byterange_part
{
    std::string content_type;
    std::string content_range;
    std::string data;
};

/// Splits a multipart/byteranges body (RFC 9110 §14.6, RFC 2046 §5.1) into its parts; fails
/// the test when the framing is broken.
std::vector<byterange_part> parse_byteranges(http_response const& r)
{
    std::vector<byterange_part> parts;
    auto const type = r.header("content-type");
    auto const at = type.find("boundary=");
    EXPECT_EQ(type.rfind("multipart/byteranges; boundary=", 0), 0U) << type;
    if (at == std::string::npos)
        return parts;
    auto const boundary = type.substr(at + 9);
    EXPECT_GE(boundary.size(), 16U);
    std::string_view body = r.body;
    std::string const delimiter = "\r\n--" + boundary;
    EXPECT_EQ(body.substr(0, delimiter.size()), delimiter) << "the body starts with a delimiter";
    while (body.starts_with(delimiter)) {
        body.remove_prefix(delimiter.size());
        if (body == "--\r\n")
            return parts;
        auto const head_end = body.find("\r\n\r\n");
        auto const next = body.find(delimiter, head_end);
        if (head_end == std::string_view::npos || next == std::string_view::npos)
            break;
        byterange_part part;
        auto const head = std::string{body.substr(0, head_end + 2)};
        auto field = [&](std::string const& name) {
            auto const start = head.find("\r\n" + name + ": ");
            if (start == std::string::npos)
                return std::string{};
            auto const value = start + name.size() + 4;
            return head.substr(value, head.find("\r\n", value) - value);
        };
        part.content_type = field("Content-Type");
        part.content_range = field("Content-Range");
        part.data = std::string{body.substr(head_end + 4, next - head_end - 4)};
        parts.push_back(part);
        body.remove_prefix(next);
    }
    ADD_FAILURE() << "the multipart body does not end with the closing delimiter";
    return parts;
}

TEST_F(conformance, file_responses_carry_validators)
{
    http_client client{port_};
    auto const r = client.get("/pub/page.txt");
    EXPECT_EQ(r.status, 200U);
    ASSERT_FALSE(r.header("etag").empty());
    EXPECT_EQ(r.header("etag").front(), '"');
    EXPECT_FALSE(r.header("last-modified").empty());
    EXPECT_EQ(r.header("accept-ranges"), "bytes");
    EXPECT_EQ(r.header("cache-control"), "max-age=60");
    auto const root = client.get("/");
    EXPECT_FALSE(root.header("etag").empty());
    EXPECT_TRUE(root.header("cache-control").empty());
}

TEST_F(conformance, conditional_get_gives_304_without_body)
{
    http_client client{port_};
    auto const first = client.get("/pub/page.txt");
    auto const etag = first.header("etag");
    auto const by_etag = client.get("/pub/page.txt", "If-None-Match: " + etag + "\r\n");
    EXPECT_EQ(by_etag.status, 304U);
    EXPECT_TRUE(by_etag.body.empty());
    EXPECT_EQ(by_etag.header("etag"), etag);
    EXPECT_FALSE(by_etag.has("content-length"));
    auto const by_date =
        client.get("/pub/page.txt", "If-Modified-Since: " + first.header("last-modified") + "\r\n");
    EXPECT_EQ(by_date.status, 304U);
    // If-None-Match wins: a non-matching tag means 200 whatever the date says.
    auto const both = client.get(
        "/pub/page.txt",
        "If-None-Match: \"other\"\r\nIf-Modified-Since: " + first.header("last-modified") + "\r\n");
    EXPECT_EQ(both.status, 200U);
    EXPECT_EQ(both.body, "0123456789abcdefghij");
}

TEST_F(conformance, failed_preconditions_give_412)
{
    http_client client{port_};
    EXPECT_EQ(client.get("/pub/page.txt", "If-Match: \"nope\"\r\n").status, 412U);
    EXPECT_EQ(client.get("/pub/page.txt", "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
                  .status,
              412U);
    auto const etag = client.get("/pub/page.txt").header("etag");
    EXPECT_EQ(client.get("/pub/page.txt", "If-Match: " + etag + "\r\n").status, 200U);
}

TEST_F(conformance, single_ranges_give_206)
{
    http_client client{port_};
    auto const head = client.get("/pub/page.txt", "Range: bytes=0-3\r\n");
    EXPECT_EQ(head.status, 206U);
    EXPECT_EQ(head.body, "0123");
    EXPECT_EQ(head.header("content-range"), "bytes 0-3/20");
    auto const tail = client.get("/pub/page.txt", "Range: bytes=-5\r\n");
    EXPECT_EQ(tail.body, "fghij");
    auto const from = client.get("/pub/page.txt", "Range: bytes=15-\r\n");
    EXPECT_EQ(from.body, "fghij");
    auto const big = client.get("/pub/big.bin", "Range: bytes=100000-200000\r\n");
    EXPECT_EQ(big.status, 206U);
    EXPECT_EQ(big.body, big_.substr(100000, 100001)) << "a large range goes out with sendfile";
}

TEST_F(conformance, unsatisfiable_and_invalid_ranges)
{
    http_client client{port_};
    auto const beyond = client.get("/pub/page.txt", "Range: bytes=50-60\r\n");
    EXPECT_EQ(beyond.status, 416U);
    EXPECT_EQ(beyond.header("content-range"), "bytes */20");
    auto const invalid = client.get("/pub/page.txt", "Range: bytes=9-1\r\n");
    EXPECT_EQ(invalid.status, 200U);
    auto const stale = client.get("/pub/page.txt", "Range: bytes=0-1\r\nIf-Range: \"old\"\r\n");
    EXPECT_EQ(stale.status, 200U);
    auto const etag = client.get("/pub/page.txt").header("etag");
    auto const fresh =
        client.get("/pub/page.txt", "Range: bytes=0-1\r\nIf-Range: " + etag + "\r\n");
    EXPECT_EQ(fresh.status, 206U);
}

TEST_F(conformance, precompressed_siblings_follow_accept_encoding)
{
    http_client client{port_};
    auto const br = client.get("/pub/style.css", "Accept-Encoding: gzip, br\r\n");
    EXPECT_EQ(br.body, "BROTLI");
    EXPECT_EQ(br.header("content-encoding"), "br");
    EXPECT_EQ(br.header("vary"), "Accept-Encoding");
    EXPECT_EQ(br.header("content-type"), "text/css; charset=utf-8");
    auto const gz = client.get("/pub/style.css", "Accept-Encoding: gzip, br;q=0\r\n");
    EXPECT_EQ(gz.body, "GZIPPED");
    EXPECT_EQ(gz.header("content-encoding"), "gzip");
    auto const plain = client.get("/pub/style.css");
    EXPECT_EQ(plain.body, "body { color: red }\n");
    EXPECT_FALSE(plain.has("content-encoding"));
    EXPECT_NE(br.header("etag"), gz.header("etag"));
    EXPECT_NE(gz.header("etag"), plain.header("etag"));
}

TEST_F(conformance, options_and_methods)
{
    http_client client{port_};
    client.send(request("OPTIONS", "/pub/page.txt"));
    auto const options = client.read_response();
    EXPECT_EQ(options.status, 204U);
    EXPECT_EQ(options.header("allow"), "GET, HEAD, OPTIONS");
    client.send(request("OPTIONS", "*"));
    EXPECT_EQ(client.read_response().header("allow"), "GET, HEAD, OPTIONS")
        << "no resource of this site takes POST";
    client.send(request("PUT", "/pub/page.txt", "Content-Length: 0\r\n"));
    auto const put = client.read_response();
    EXPECT_EQ(put.status, 405U);
    EXPECT_EQ(put.header("allow"), "GET, HEAD, OPTIONS");
    client.send(request("FROBNICATE", "/"));
    EXPECT_EQ(client.read_response().status, 501U);
}

TEST_F(conformance, several_ranges_come_as_multipart_byteranges)
{
    http_client client{port_};
    // A file larger than the cache (sendfile), and a cached one (from memory).
    auto const big = client.get("/pub/big.bin", "Range: bytes=200000-200099, 0-9, 100-199\r\n");
    ASSERT_EQ(big.status, 206U);
    EXPECT_FALSE(big.has("content-range"));
    EXPECT_EQ(big.header("content-length"), std::to_string(big.body.size()));
    auto const parts = parse_byteranges(big);
    ASSERT_EQ(parts.size(), 3U);
    EXPECT_EQ(parts[0].content_range, "bytes 0-9/307200") << "ascending order";
    EXPECT_EQ(parts[0].data, big_.substr(0, 10));
    EXPECT_EQ(parts[1].content_range, "bytes 100-199/307200");
    EXPECT_EQ(parts[1].data, big_.substr(100, 100));
    EXPECT_EQ(parts[2].content_range, "bytes 200000-200099/307200");
    EXPECT_EQ(parts[2].data, big_.substr(200000, 100));
    for (auto const& part : parts)
        EXPECT_EQ(part.content_type, "application/octet-stream");

    auto const small = client.get("/pub/page.txt", "Range: bytes=-3,0-1\r\n");
    ASSERT_EQ(small.status, 206U);
    auto const small_parts = parse_byteranges(small);
    ASSERT_EQ(small_parts.size(), 2U);
    EXPECT_EQ(small_parts[0].data, "01");
    EXPECT_EQ(small_parts[1].data, "hij");
    EXPECT_EQ(small_parts[1].content_type, "text/plain; charset=utf-8");

    auto const again = client.get("/pub/page.txt", "Range: bytes=-3,0-1\r\n");
    EXPECT_NE(again.header("content-type"), small.header("content-type"))
        << "the boundary is new for every response";
}

TEST_F(conformance, ranges_are_merged_dropped_and_capped)
{
    http_client client{port_};
    auto const merged = client.get("/pub/page.txt", "Range: bytes=0-4,3-7,8-9\r\n");
    EXPECT_EQ(merged.status, 206U);
    EXPECT_EQ(merged.header("content-range"), "bytes 0-9/20") << "one range left: a plain 206";
    EXPECT_EQ(merged.body, "0123456789");
    auto const dropped = client.get("/pub/page.txt", "Range: bytes=100-200,5-6\r\n");
    EXPECT_EQ(dropped.header("content-range"), "bytes 5-6/20");
    auto const none = client.get("/pub/page.txt", "Range: bytes=100-200,300-\r\n");
    EXPECT_EQ(none.status, 416U);
    std::string seventeen = "Range: bytes=0-0";
    for (int i = 1; i < 17; ++i)
        seventeen += "," + std::to_string(i) + "-" + std::to_string(i);
    auto const capped = client.get("/pub/page.txt", seventeen + "\r\n");
    EXPECT_EQ(capped.status, 200U) << "more than max_ranges: the whole file";
    EXPECT_EQ(capped.body, "0123456789abcdefghij");
}

TEST_F(conformance, host_and_authority_are_validated)
{
    for (std::string const bad : {
             "GET / HTTP/1.0\r\nHost: 123.40.56.78:9000:80\r\n\r\n",
             "GET / HTTP/1.0\r\nHost: example.com/\\:552\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: \r\n\r\n",
             "GET / HTTP/1.1\r\nHost: exa_mple..com\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: x:0\r\n\r\n",
             "GET http://user@example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
             "GET http://exa%41mple.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
             "GET http://example.com:99999/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
             "GET http://example.com/ HTTP/1.1\r\nHost: bad host\r\n\r\n",
         })
        EXPECT_EQ(answered_then_closed(bad).status, 400U) << bad;
    http_client client{port_};
    for (std::string const good : {
             "GET / HTTP/1.1\r\nHost: Example.COM.:8080\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: [::1]:7878\r\n\r\n",
             "GET http://example.com./ HTTP/1.1\r\nHost: other.example\r\n\r\n",
             "GET / HTTP/1.0\r\n\r\n",
         })
    {
        client.send(good);
        EXPECT_EQ(client.read_response().status, 200U) << good;
        if (good.find("HTTP/1.0") != std::string::npos)
            break; // HTTP/1.0 without keep-alive closes
    }
}

TEST_F(conformance, connect_is_400_unless_authority_form)
{
    EXPECT_EQ(answered_then_closed("CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n").status, 400U);
    http_client client{port_};
    client.send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    auto const refused = client.read_response();
    EXPECT_EQ(refused.status, 405U);
    EXPECT_EQ(refused.header("allow"), "GET, HEAD, OPTIONS");
}

TEST_F(conformance, chunked_bodies_are_read_strictly_and_at_once)
{
    // Each is refused as soon as the offending byte arrives, not after the body timeout (10 s)
    // that a parser waiting for more input would run into.
    std::string const head = "POST /nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (std::string const body : {
             "5\r\nABCDE0\r\n",                // data not followed by CRLF
             "5;a=\"abc\r\n",                  // a quoted extension that never closes
             " 5\r\nABCDE\r\n0\r\n\r\n",       // whitespace before the size
             "0x5\r\nABCDE\r\n0\r\n\r\n",      // a 0x prefix
             "00000000000000005\r\nABCDE\r\n", // 17 hex digits
             "5\nABCDE\r\n0\r\n\r\n",          // a bare LF ending the size line
             "5\r\nABCDE\n0\r\n\r\n",          // a bare LF after the data
             "5;\r\nABCDE\r\n0\r\n\r\n",       // an extension without a name
             "5 x\r\nABCDE\r\n0\r\n\r\n",      // something after the size
             "0\r\nContent-Length: 5\r\n\r\n", // a trailer field that frames the message
             "0\r\nHost: elsewhere\r\n\r\n",   // a trailer field that routes it
             "0\r\nX-Fine: yes\n\r\n",         // a bare LF in the trailer section
             "0\r\nbad name: x\r\n\r\n",       // a trailer line that is no field
         })
        EXPECT_EQ(answered_then_closed(head + body).status, 400U) << body;
    std::string const long_size_line = "5;x=" + std::string(20000, 'a') + "\r\nABCDE\r\n0\r\n\r\n";
    EXPECT_EQ(answered_then_closed(head + long_size_line).status, 400U)
        << "a size line longer than the head";
}

TEST_F(conformance, well_formed_chunked_bodies_with_extensions_and_trailers_pass)
{
    http_client client{port_};
    client.send("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5;name=value;quoted=\"a \\\" b\"\r\nABCDE\r\n"
                "A ; bws = x \r\n0123456789\r\n"
                "0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n" +
                request("GET", "/nope"));
    EXPECT_EQ(client.read_response().status, 200U);
    EXPECT_EQ(client.read_response().status, 404U) << "the next request after the body";
}

TEST_F(conformance, expect_100_continue_gets_the_final_status_at_once)
{
    // Nothing here depends on a body: the final answer comes without a 100 and without waiting
    // for the body, and the connection closes since the body may still be on its way.
    auto const waiting = answered_then_closed(
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(waiting.status, 200U) << "a final status, never a 100 first";
    EXPECT_EQ(waiting.body, hello_page());

    // The body came with the head: read and thrown away as usual, and the connection stays.
    http_client eager{port_};
    eager.send("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
               "hello");
    auto const first = eager.read_response();
    EXPECT_EQ(first.status, 200U);
    EXPECT_FALSE(first.has("connection"));
    EXPECT_EQ(eager.get("/nope").status, 404U);

    EXPECT_EQ(answered_then_closed("GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n").status,
              417U);
    http_client old{port_};
    old.send("GET / HTTP/1.0\r\nExpect: teapot\r\n\r\n");
    EXPECT_EQ(old.read_response().status, 200U) << "HTTP/1.0 ignores Expect";
}

TEST_F(conformance, identity_answers_vary_when_a_compressed_sibling_exists)
{
    http_client client{port_};
    auto const plain = client.get("/pub/style.css");
    EXPECT_EQ(plain.header("vary"), "Accept-Encoding");
    EXPECT_FALSE(plain.has("content-encoding"));
    auto const validated =
        client.get("/pub/style.css", "If-None-Match: " + plain.header("etag") + "\r\n");
    EXPECT_EQ(validated.status, 304U);
    EXPECT_EQ(validated.header("vary"), "Accept-Encoding");
    EXPECT_EQ(validated.header("etag"), plain.header("etag"));
    auto const gz = client.get("/pub/style.css", "Accept-Encoding: gzip\r\n");
    auto const gz_validated = client.get(
        "/pub/style.css", "Accept-Encoding: gzip\r\nIf-None-Match: " + gz.header("etag") + "\r\n");
    EXPECT_EQ(gz_validated.status, 304U);
    EXPECT_EQ(gz_validated.header("etag"), gz.header("etag"));
    EXPECT_EQ(gz_validated.header("vary"), "Accept-Encoding");
    EXPECT_FALSE(client.get("/pub/page.txt").has("vary")) << "no sibling, nothing varies";
}

TEST_F(conformance, a_directory_redirect_keeps_the_query)
{
    dir_.write("pub/sub/index.html", "sub index");
    http_client client{port_};
    auto const r = client.get("/pub/sub?x=1&y=%20");
    EXPECT_EQ(r.status, 301U);
    EXPECT_EQ(r.header("location"), "/pub/sub/?x=1&y=%20");
    auto const prefix = client.get("/pub?a=b");
    EXPECT_EQ(prefix.header("location"), "/pub/?a=b");
    EXPECT_EQ(client.get("/pub/sub").header("location"), "/pub/sub/");
}

TEST_F(conformance, request_line_versions)
{
    http_client client{port_};
    client.send("GET / HTTP/1.2\r\nHost: x\r\n\r\n");
    auto const higher_minor = client.read_response();
    EXPECT_EQ(higher_minor.status, 200U) << "HTTP/1.2 is served as HTTP/1.1";
    EXPECT_EQ(client.get("/").status, 200U) << "and kept alive as HTTP/1.1 would be";
    for (std::string const version : {"HTTP/2.0", "HTTP/3.0", "HTTP/0.9"})
        EXPECT_EQ(answered_then_closed("GET / " + version + "\r\nHost: x\r\n\r\n").status, 505U)
            << version;
}

TEST_F(conformance, refused_requests_are_logged_by_their_request_line)
{
    EXPECT_EQ(answered_then_closed("GET /two HTTP/2.0\r\nHost: x\r\n\r\n").status, 505U);
    EXPECT_EQ(answered_then_closed("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").status, 505U);
    EXPECT_EQ(answered_then_closed("GET /bad-host HTTP/1.1\r\nHost: a b\r\n\r\n").status, 400U);
    ASSERT_TRUE(daemon_->wait_for_output("GET /bad-host HTTP/1.1 400 "));
    auto const log = daemon_->output();
    EXPECT_NE(log.find("GET /two HTTP/2.0 505 "), std::string::npos) << log;
    EXPECT_NE(log.find("PRI * HTTP/2.0 505 "), std::string::npos) << log;
    EXPECT_EQ(log.find(" SM "), std::string::npos) << "the preface's second half was answered";
    EXPECT_EQ(log.find("\"-\""), std::string::npos) << log;
}

TEST_F(conformance, exchanges_that_wait_are_logged_by_their_request_line)
{
    http_client client{port_};
    EXPECT_EQ(client.get("/pub/page.txt").status, 200U);
    // Sent with sendfile: the exchange goes on after its request has been parsed and dropped.
    EXPECT_EQ(client.get("/pub/big.bin?sent-with-sendfile").body, big_);
    // A body in two writes: the exchange waits for the rest before it answers.
    client.send("PUT /pub/page.txt?body-in-two-writes HTTP/1.1\r\nHost: x\r\n"
                "Content-Length: 6\r\n\r\nab");
    client.send("cdef");
    EXPECT_EQ(client.read_response().status, 405U);
    ASSERT_TRUE(daemon_->wait_for_output("?body-in-two-writes HTTP/1.1 405 "));
    auto const log = daemon_->output();
    EXPECT_NE(log.find("PUT /pub/page.txt?body-in-two-writes HTTP/1.1 405 "), std::string::npos)
        << log;
    EXPECT_NE(log.find("GET /pub/big.bin?sent-with-sendfile HTTP/1.1 200 "), std::string::npos)
        << log;
}

} // namespace
} // namespace hello_async::testing
