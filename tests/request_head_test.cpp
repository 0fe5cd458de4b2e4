#include "hello_async/http/request_head.hpp"

#include <gtest/gtest.h>

namespace hello_async {
namespace {

namespace http = boost::beast::http;

TEST(head_end, found_after_the_empty_line)
{
    EXPECT_EQ(find_head_end("GET / HTTP/1.1\r\nHost: x\r\n\r\nrest"), 27U);
    EXPECT_EQ(find_head_end("GET / HTTP/1.1\r\nHost: x\r\n"), std::string_view::npos);
    EXPECT_EQ(find_head_end("GET / HTTP/1.1\n\n"), 16U) << "bare LF ends it, to be refused";
}

TEST(head_bytes, clean_head_passes)
{
    EXPECT_TRUE(head_is_clean("GET / HTTP/1.1\r\nHost: x\r\nX-T: a\tb \x80\r\n\r\n"));
}

TEST(head_bytes, forbidden_bytes_are_refused)
{
    using namespace std::string_view_literals;
    for (auto const head :
         {"GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n"sv, "GET / HTTP/1.1\nHost: x\r\n\r\n"sv,
          "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"sv,
          "GET / HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n"sv,
          "GET / HTTP/1.1\r\nHost: x\0\r\n\r\n"sv, "GET / HTTP/1.1\r\nHost: x\x01\r\n\r\n"sv,
          "GET / HTTP/1.1\r\nHost: x\x7f\r\n\r\n"sv})
        EXPECT_FALSE(head_is_clean(head)) << head;
}

http::request_header<> header(unsigned version = 11)
{
    http::request_header<> req;
    req.version(version);
    req.method(http::verb::get);
    req.target("/");
    req.insert(http::field::host, "x");
    return req;
}

TEST(framing, ordinary_requests_pass)
{
    limits const lim;
    EXPECT_FALSE(framing_problem_of(header(), lim));
    auto chunked = header();
    chunked.insert(http::field::transfer_encoding, "gzip, chunked");
    EXPECT_FALSE(framing_problem_of(chunked, lim));
    auto no_host_10 = header(10);
    no_host_10.erase(http::field::host);
    EXPECT_FALSE(framing_problem_of(no_host_10, lim));
}

TEST(framing, ambiguous_framing_is_400)
{
    limits const lim;
    auto both = header();
    both.insert(http::field::content_length, "5");
    both.insert(http::field::transfer_encoding, "chunked");
    EXPECT_EQ(framing_problem_of(both, lim), 400U);
    auto two_lengths = header();
    two_lengths.insert(http::field::content_length, "5");
    two_lengths.insert(http::field::content_length, "5");
    EXPECT_EQ(framing_problem_of(two_lengths, lim), 400U);
    auto not_final = header();
    not_final.insert(http::field::transfer_encoding, "chunked, gzip");
    EXPECT_EQ(framing_problem_of(not_final, lim), 400U);
    auto old = header(10);
    old.insert(http::field::transfer_encoding, "chunked");
    EXPECT_EQ(framing_problem_of(old, lim), 400U);
}

TEST(framing, host_rules)
{
    limits const lim;
    auto none = header();
    none.erase(http::field::host);
    EXPECT_EQ(framing_problem_of(none, lim), 400U);
    auto two = header();
    two.insert(http::field::host, "y");
    EXPECT_EQ(framing_problem_of(two, lim), 400U);
}

TEST(framing, size_limits)
{
    limits lim;
    lim.uri_bytes = 10;
    lim.header_fields = 3;
    auto long_target = header();
    long_target.target("/0123456789");
    EXPECT_EQ(framing_problem_of(long_target, lim), 414U);
    auto many = header();
    for (int i = 0; i < 3; ++i)
        many.insert("X-" + std::to_string(i), "v");
    EXPECT_EQ(framing_problem_of(many, lim), 431U);
}

} // namespace
} // namespace hello_async
