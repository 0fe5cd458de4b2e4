#include "hello_async/http/response.hpp"

#include <gtest/gtest.h>

#include <string>

TEST(response_head, every_field_in_order_with_the_blank_line)
{
    hello_async::response_head head;
    head.status = 206;
    head.keep_alive = true;
    head.client_is_http10 = true;
    head.content_type = "text/html; charset=utf-8";
    head.content_length = 12345;
    head.allow = "GET, HEAD";
    head.location = "/moved/";
    head.etag = "\"1-2-3\"";
    head.last_modified = "Thu, 01 Jan 1970 00:00:00 GMT";
    head.accept_ranges = true;
    head.content_range = "bytes 0-12344/99999";
    head.content_encoding = "gzip";
    head.vary_accept_encoding = true;
    std::string const long_value(500, 'c'); // longer than all the fixed parts together
    head.cache_control = long_value;
    std::string out = "previous response|";
    hello_async::append_response_head(out, head);

    std::string const prefix = "previous response|HTTP/1.1 206 Partial Content\r\nServer: " +
                               std::string{hello_async::server_token()} + "\r\nDate: ";
    ASSERT_EQ(out.substr(0, prefix.size()), prefix);
    auto const after_date = out.find("\r\n", prefix.size());
    ASSERT_NE(after_date, std::string::npos);
    EXPECT_EQ(after_date - prefix.size(), 29U) << "an IMF-fixdate is 29 characters";
    EXPECT_EQ(out.substr(after_date), "\r\nContent-Type: text/html; charset=utf-8"
                                      "\r\nContent-Length: 12345"
                                      "\r\nAllow: GET, HEAD"
                                      "\r\nLocation: /moved/"
                                      "\r\nETag: \"1-2-3\""
                                      "\r\nLast-Modified: Thu, 01 Jan 1970 00:00:00 GMT"
                                      "\r\nAccept-Ranges: bytes"
                                      "\r\nContent-Range: bytes 0-12344/99999"
                                      "\r\nContent-Encoding: gzip"
                                      "\r\nVary: Accept-Encoding"
                                      "\r\nCache-Control: " +
                                          long_value +
                                          "\r\nConnection: keep-alive"
                                          "\r\n\r\n");
}

TEST(response_head, no_content_length_and_connection_close_when_asked)
{
    hello_async::response_head head;
    head.status = 304;
    head.omit_content_length = true;
    head.keep_alive = false;
    std::string out;
    hello_async::append_response_head(out, head);
    EXPECT_EQ(out.rfind("HTTP/1.1 304 Not Modified\r\n", 0), 0U);
    EXPECT_EQ(out.find("Content-Length"), std::string::npos);
    EXPECT_EQ(out.find("Content-Type"), std::string::npos);
    EXPECT_TRUE(out.ends_with("\r\nConnection: close\r\n\r\n")) << out;
}
