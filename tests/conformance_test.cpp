// RFC 9110 semantics over real TCP: validators, preconditions, ranges, content codings, methods.
#include <gtest/gtest.h>

#include "support/http_client.hpp"
#include "support/site_under_test.hpp"

namespace hello_async::testing {
namespace {

class conformance : public site_under_test
{
};

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

TEST_F(conformance, unsatisfiable_multiple_and_invalid_ranges)
{
    http_client client{port_};
    auto const beyond = client.get("/pub/page.txt", "Range: bytes=50-60\r\n");
    EXPECT_EQ(beyond.status, 416U);
    EXPECT_EQ(beyond.header("content-range"), "bytes */20");
    auto const several = client.get("/pub/page.txt", "Range: bytes=0-1,4-5\r\n");
    EXPECT_EQ(several.status, 200U);
    EXPECT_EQ(several.body, "0123456789abcdefghij");
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
    EXPECT_EQ(client.read_response().header("allow"), "GET, HEAD, POST, OPTIONS");
    client.send(request("PUT", "/pub/page.txt", "Content-Length: 0\r\n"));
    auto const put = client.read_response();
    EXPECT_EQ(put.status, 405U);
    EXPECT_EQ(put.header("allow"), "GET, HEAD, OPTIONS");
    client.send(request("FROBNICATE", "/"));
    EXPECT_EQ(client.read_response().status, 501U);
}

} // namespace
} // namespace hello_async::testing
