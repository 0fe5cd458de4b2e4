#include "hello_async/http/request_head.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

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

TEST(head_bytes, every_byte_is_judged_wherever_it_stands)
{
    // The check reads eight bytes at a time: each byte at each offset within a word, and in
    // the tail after the last whole word.
    std::string const start{"GET / HTTP/1.1\r\nX-Filler: "};
    for (std::size_t pad = 0; pad < 2 * sizeof(std::uint64_t); ++pad) {
        for (unsigned byte = 0; byte < 256; ++byte) {
            auto const c = static_cast<char>(byte);
            bool const allowed = (byte >= 0x20 && byte != 0x7f) || c == '\t';
            auto const head = start + std::string(pad, 'a') + c + "b\r\nHost: x\r\n\r\n";
            EXPECT_EQ(head_is_clean(head), allowed) << "byte " << byte << " after " << pad;
            auto const at_the_end = start + std::string(pad, 'a') + c;
            EXPECT_EQ(head_is_clean(at_the_end), allowed)
                << "byte " << byte << " last, after " << pad;
        }
    }
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
    EXPECT_EQ(check_request_head(header(), lim).refusal, 0U);
    auto chunked = header();
    chunked.insert(http::field::transfer_encoding, "gzip, chunked");
    EXPECT_EQ(check_request_head(chunked, lim).refusal, 0U);
    auto no_host_10 = header(10);
    no_host_10.erase(http::field::host);
    EXPECT_EQ(check_request_head(no_host_10, lim).refusal, 0U);
}

TEST(framing, ambiguous_framing_is_400)
{
    limits const lim;
    auto both = header();
    both.insert(http::field::content_length, "5");
    both.insert(http::field::transfer_encoding, "chunked");
    EXPECT_EQ(check_request_head(both, lim).refusal, 400U);
    auto two_lengths = header();
    two_lengths.insert(http::field::content_length, "5");
    two_lengths.insert(http::field::content_length, "5");
    EXPECT_EQ(check_request_head(two_lengths, lim).refusal, 400U);
    auto not_final = header();
    not_final.insert(http::field::transfer_encoding, "chunked, gzip");
    EXPECT_EQ(check_request_head(not_final, lim).refusal, 400U);
    auto old = header(10);
    old.insert(http::field::transfer_encoding, "chunked");
    EXPECT_EQ(check_request_head(old, lim).refusal, 400U);
}

TEST(framing, host_rules)
{
    limits const lim;
    auto none = header();
    none.erase(http::field::host);
    EXPECT_EQ(check_request_head(none, lim).refusal, 400U);
    auto two = header();
    two.insert(http::field::host, "y");
    EXPECT_EQ(check_request_head(two, lim).refusal, 400U);
}

TEST(framing, host_and_target_authority)
{
    limits const lim;
    auto refusal_for = [&](std::string_view host, std::string_view target, unsigned version) {
        auto req = header(version);
        req.target(target);
        req.set(http::field::host, host);
        return check_request_head(req, lim).refusal;
    };
    EXPECT_EQ(refusal_for("123.40.56.78:9000:80", "/", 10), 400U);
    EXPECT_EQ(refusal_for("example.com/\\:552", "/", 10), 400U);
    EXPECT_EQ(refusal_for("", "/", 11), 400U);
    EXPECT_EQ(refusal_for("", "/", 10), 400U);
    EXPECT_EQ(refusal_for("example.com", "http://exa mple.com/", 11), 400U);
    EXPECT_EQ(refusal_for("example.com", "http://user@example.com/", 11), 400U);
    EXPECT_EQ(refusal_for("example.com", "http:///path", 11), 400U);
    EXPECT_EQ(refusal_for("bad/host", "http://example.com/", 11), 400U)
        << "the Host field is checked even when the target names the authority";
    EXPECT_EQ(refusal_for("Example.COM.:8080", "/", 11), 0U);

    auto absolute = header();
    absolute.target("http://Target.Example:81/path?q");
    absolute.set(http::field::host, "host.example");
    auto const checked = check_request_head(absolute, lim);
    EXPECT_EQ(checked.refusal, 0U);
    EXPECT_EQ(checked.host.host, "target.example");
    EXPECT_EQ(checked.host.port, 81);

    auto plain = header();
    plain.set(http::field::host, "WWW.Example.com.");
    EXPECT_EQ(check_request_head(plain, lim).host.host, "www.example.com");
}

TEST(framing, connect_needs_host_and_port)
{
    limits const lim;
    auto connect = header();
    connect.method(http::verb::connect);
    connect.target("example.com:443");
    EXPECT_EQ(check_request_head(connect, lim).refusal, 0U);
    for (auto const* target : {"/", "example.com", "example.com:", "http://example.com/"}) {
        connect.target(target);
        EXPECT_EQ(check_request_head(connect, lim).refusal, 400U) << target;
    }
}

TEST(framing, expectations)
{
    limits const lim;
    auto req = header();
    req.set(http::field::expect, "100-Continue");
    auto const checked = check_request_head(req, lim);
    EXPECT_EQ(checked.refusal, 0U);
    EXPECT_TRUE(checked.expects_continue);
    req.set(http::field::expect, "something-else");
    EXPECT_EQ(check_request_head(req, lim).refusal, 417U);
    auto old = header(10);
    old.set(http::field::expect, "something-else");
    EXPECT_EQ(check_request_head(old, lim).refusal, 0U) << "HTTP/1.0 ignores Expect";
    EXPECT_FALSE(check_request_head(old, lim).expects_continue);
}

TEST(framing, size_limits)
{
    limits lim;
    lim.uri_bytes = 10;
    lim.header_fields = 3;
    auto long_target = header();
    long_target.target("/0123456789");
    EXPECT_EQ(check_request_head(long_target, lim).refusal, 414U);
    auto many = header();
    for (int i = 0; i < 3; ++i)
        many.insert("X-" + std::to_string(i), "v");
    EXPECT_EQ(check_request_head(many, lim).refusal, 431U);
}

} // namespace
} // namespace hello_async
