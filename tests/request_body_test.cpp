#include "hello_async/http/request_body.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hello_async {
namespace {

using verdict = chunked_body::verdict;

constexpr std::size_t line_max = 1024;
constexpr std::uint64_t body_max = 1000;

/// Feeds `input` whole, then again byte by byte: both must reach the same verdict after the
/// same number of bytes.
chunked_body::progress read_chunked(std::string const& input)
{
    chunked_body whole{line_max, body_max};
    auto const at_once = whole.read(input);
    chunked_body bytewise{line_max, body_max};
    chunked_body::progress step;
    std::size_t consumed = 0;
    for (char const c : input) {
        step = bytewise.read(std::string_view{&c, 1});
        consumed += step.consumed;
        if (step.result != verdict::more)
            break;
    }
    EXPECT_EQ(step.result, at_once.result) << input;
    EXPECT_EQ(consumed, at_once.consumed) << input;
    return at_once;
}

TEST(chunked_body, well_formed_bodies_end_where_they_end)
{
    for (std::string const body : {
             "0\r\n\r\n",
             "5\r\nhello\r\n0\r\n\r\n",
             "5;a=b\r\nhello\r\n0\r\n\r\n",
             "5 ; a = b ; c\r\nhello\r\n0\r\n\r\n",
             "5;q=\"a \\\" ; b\"\r\nhello\r\n0\r\n\r\n",
             "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
             "000005\r\nhello\r\n0\r\n\r\n",
             "5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Other:\r\n\r\n",
         })
    {
        auto const step = read_chunked(body + "NEXT");
        EXPECT_EQ(step.result, verdict::done) << body;
        EXPECT_EQ(step.consumed, body.size()) << body;
    }
}

TEST(chunked_body, malformed_bodies_are_refused_at_the_offending_byte)
{
    struct refused_case
    {
        std::string body;
        std::size_t offending; ///< the index of the byte that makes it malformed
    };
    for (auto const& [body, offending] : {
             refused_case{"5\r\nABCDE0\r\n", 8},
             refused_case{"5;a=\"abc\r\n", 8},
             refused_case{" 5\r\n", 0},
             refused_case{"0x5\r\n", 1},
             refused_case{"-5\r\n", 0},
             refused_case{"\r\n", 0},
             refused_case{"00000000000000005\r\n", 16},
             refused_case{"5\nABCDE\r\n", 1},
             refused_case{"5\r\nABCDE\n", 8},
             refused_case{"5\rX", 2},
             refused_case{"5;\r\n", 2},
             refused_case{"5;=x\r\n", 2},
             refused_case{"5;a=\r\n", 4},
             refused_case{"5;a=\"x\"y\r\n", 7},
             refused_case{"5 x\r\n", 2},
             refused_case{"0\r\nContent-Length: 5\r\n\r\n", 17},
             refused_case{"0\r\nhost: x\r\n\r\n", 7},
             refused_case{"0\r\nTE: trailers\r\n\r\n", 5},
             refused_case{"0\r\nX-Fine: yes\n", 14},
             refused_case{"0\r\nbad name: x\r\n", 6},
             refused_case{"0\r\n: x\r\n", 3},
             refused_case{"0\r\nX: a\x01\r\n", 7},
             refused_case{"0\r\n\rX", 4},
         })
    {
        auto const step = read_chunked(body + "more");
        EXPECT_EQ(step.result, verdict::bad) << body;
        EXPECT_EQ(step.consumed, offending + 1) << body;
    }
}

TEST(chunked_body, limits)
{
    chunked_body small{line_max, 10};
    EXPECT_EQ(small.read("B\r\n").result, verdict::too_large);
    chunked_body enough{line_max, 10};
    EXPECT_EQ(enough.read("A\r\n0123456789\r\n1\r\n").result, verdict::too_large)
        << "the limit counts all chunks together";
    chunked_body short_lines{8, body_max};
    EXPECT_EQ(short_lines.read("5;abcdefgh\r\n").result, verdict::bad);
    chunked_body short_trailers{8, body_max};
    EXPECT_EQ(short_trailers.read("0\r\nX-Long: value\r\n\r\n").result, verdict::bad);
    chunked_body largest{line_max, UINT64_MAX};
    EXPECT_EQ(largest.read("FFFFFFFFFFFFFFFF\r\n").result, verdict::more) << "16 digits fit";
}

TEST(request_body, a_content_length_body_takes_exactly_its_bytes)
{
    request_body body{std::uint64_t{5}, line_max, body_max};
    auto const first = body.read("hel");
    EXPECT_EQ(first.result, verdict::more);
    EXPECT_EQ(first.consumed, 3U);
    auto const rest = body.read("loGET /");
    EXPECT_EQ(rest.result, verdict::done);
    EXPECT_EQ(rest.consumed, 2U);
    request_body chunked{std::nullopt, line_max, body_max};
    EXPECT_EQ(chunked.read("0\r\n\r\n").result, verdict::done);
}

} // namespace
} // namespace hello_async
