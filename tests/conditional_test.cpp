#include "hello_async/http/accept_encoding.hpp"
#include "hello_async/http/etag.hpp"
#include "hello_async/http/http_date.hpp"
#include "hello_async/http/preconditions.hpp"
#include "hello_async/http/ranges.hpp"

#include <gtest/gtest.h>

namespace hello_async {
namespace {

constexpr std::time_t nov_1994 = 784111777; // Sun, 06 Nov 1994 08:49:37 GMT

TEST(http_dates, all_three_forms_parse)
{
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), nov_1994);
    EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), nov_1994);
    EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), nov_1994);
    EXPECT_EQ(format_http_date(nov_1994), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(http_dates, garbage_is_refused)
{
    for (auto const* text :
         {"", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 36 Nov 1994 08:49:37 GMT",
          "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT"})
        EXPECT_FALSE(parse_http_date(text).has_value()) << text;
}

TEST(etags, differ_by_coding_and_metadata)
{
    timespec const t{100, 5};
    auto const plain = make_etag(7, 10, t);
    EXPECT_EQ(plain.front(), '"');
    EXPECT_EQ(plain.back(), '"');
    EXPECT_NE(plain, make_etag(7, 10, t, "br"));
    EXPECT_NE(plain, make_etag(7, 11, t));
    EXPECT_NE(plain, make_etag(8, 10, t));
    EXPECT_NE(plain, make_etag(7, 10, timespec{100, 6}));
}

TEST(preconditions, if_none_match)
{
    conditions c;
    c.if_none_match = "\"a\", \"b\"";
    EXPECT_EQ(evaluate_preconditions(c, true, "\"b\"", 0), precondition::not_modified);
    EXPECT_EQ(evaluate_preconditions(c, false, "\"b\"", 0), precondition::failed);
    EXPECT_EQ(evaluate_preconditions(c, true, "\"c\"", 0), precondition::proceed);
    c.if_none_match = "W/\"b\"";
    EXPECT_EQ(evaluate_preconditions(c, true, "\"b\"", 0), precondition::not_modified)
        << "If-None-Match uses the weak comparison";
    c.if_none_match = "*";
    EXPECT_EQ(evaluate_preconditions(c, true, "\"x\"", 0), precondition::not_modified);
}

TEST(preconditions, if_none_match_wins_over_if_modified_since)
{
    conditions c;
    c.if_none_match = "\"other\"";
    c.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT";
    EXPECT_EQ(evaluate_preconditions(c, true, "\"x\"", nov_1994), precondition::proceed);
}

TEST(preconditions, if_modified_since)
{
    conditions c;
    c.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT";
    EXPECT_EQ(evaluate_preconditions(c, true, "\"x\"", nov_1994), precondition::not_modified);
    EXPECT_EQ(evaluate_preconditions(c, true, "\"x\"", nov_1994 + 1), precondition::proceed);
    EXPECT_EQ(evaluate_preconditions(c, false, "\"x\"", nov_1994), precondition::proceed)
        << "only GET and HEAD";
    c.if_modified_since = "not a date";
    EXPECT_EQ(evaluate_preconditions(c, true, "\"x\"", nov_1994), precondition::proceed);
}

TEST(preconditions, if_match_and_if_unmodified_since)
{
    conditions c;
    c.if_match = "\"x\"";
    EXPECT_EQ(evaluate_preconditions(c, true, "\"x\"", 0), precondition::proceed);
    EXPECT_EQ(evaluate_preconditions(c, true, "\"y\"", 0), precondition::failed);
    c.if_match = "W/\"x\"";
    EXPECT_EQ(evaluate_preconditions(c, true, "\"x\"", 0), precondition::failed)
        << "If-Match uses the strong comparison";
    conditions d;
    d.if_unmodified_since = "Sun, 06 Nov 1994 08:49:37 GMT";
    EXPECT_EQ(evaluate_preconditions(d, true, "\"x\"", nov_1994), precondition::proceed);
    EXPECT_EQ(evaluate_preconditions(d, true, "\"x\"", nov_1994 + 1), precondition::failed);
}

TEST(ranges, single_ranges)
{
    using o = range_request::outcome;
    auto r = evaluate_range("bytes=0-99", std::nullopt, "\"e\"", 0, 1000, 16);
    EXPECT_EQ(r.result, o::partial);
    EXPECT_EQ(r.ranges.at(0).first, 0U);
    EXPECT_EQ(r.ranges.at(0).last, 99U);
    r = evaluate_range("bytes=-100", std::nullopt, "\"e\"", 0, 1000, 16);
    EXPECT_EQ(r.ranges.at(0).first, 900U);
    EXPECT_EQ(r.ranges.at(0).last, 999U);
    r = evaluate_range("bytes=100-", std::nullopt, "\"e\"", 0, 1000, 16);
    EXPECT_EQ(r.ranges.at(0).first, 100U);
    EXPECT_EQ(r.ranges.at(0).last, 999U);
    r = evaluate_range("bytes=990-5000", std::nullopt, "\"e\"", 0, 1000, 16);
    EXPECT_EQ(r.ranges.at(0).last, 999U);
    r = evaluate_range("bytes=-5000", std::nullopt, "\"e\"", 0, 1000, 16);
    EXPECT_EQ(r.ranges.at(0).first, 0U);
}

TEST(ranges, unsatisfiable_invalid_and_multiple)
{
    using o = range_request::outcome;
    EXPECT_EQ(evaluate_range("bytes=1000-", std::nullopt, "\"e\"", 0, 1000, 16).result,
              o::unsatisfiable);
    EXPECT_EQ(evaluate_range("bytes=-0", std::nullopt, "\"e\"", 0, 1000, 16).result,
              o::unsatisfiable);
    for (auto const* invalid :
         {"bytes=5-1", "bytes=a-b", "items=0-1", "bytes=", "bytes=--1", "0-99", "bytes=1"})
        EXPECT_EQ(evaluate_range(invalid, std::nullopt, "\"e\"", 0, 1000, 16).result, o::full)
            << invalid;
    EXPECT_EQ(evaluate_range("bytes=0-1,x", std::nullopt, "\"e\"", 0, 1000, 16).result, o::full)
        << "one invalid member invalidates the whole field";
}

TEST(ranges, several_ranges_are_sorted_merged_and_capped)
{
    using o = range_request::outcome;
    auto const spans = [](range_request const& r) {
        std::string out;
        for (auto const& range : r.ranges)
            out += std::to_string(range.first) + "-" + std::to_string(range.last) + " ";
        return out;
    };
    auto const two = evaluate_range("bytes=500-599, 0-99", std::nullopt, "\"e\"", 0, 1000, 16);
    EXPECT_EQ(two.result, o::partial);
    EXPECT_EQ(spans(two), "0-99 500-599 ");
    auto const joined =
        evaluate_range("bytes=0-99,100-199,150-160,-50", std::nullopt, "\"e\"", 0, 1000, 16);
    EXPECT_EQ(spans(joined), "0-199 950-999 ") << "adjacent and overlapping ranges merge";
    auto const some_beyond =
        evaluate_range("bytes=2000-3000,10-19", std::nullopt, "\"e\"", 0, 1000, 16);
    EXPECT_EQ(spans(some_beyond), "10-19 ") << "unsatisfiable members are dropped";
    EXPECT_EQ(evaluate_range("bytes=2000-,3000-", std::nullopt, "\"e\"", 0, 1000, 16).result,
              o::unsatisfiable);
    std::string seventeen = "bytes=0-0";
    for (int i = 1; i < 17; ++i)
        seventeen += "," + std::to_string(i * 10) + "-" + std::to_string(i * 10);
    EXPECT_EQ(evaluate_range(seventeen, std::nullopt, "\"e\"", 0, 1000, 17).result, o::partial);
    EXPECT_EQ(evaluate_range(seventeen, std::nullopt, "\"e\"", 0, 1000, 16).result, o::full)
        << "more ranges than max_ranges, counted as sent, get the whole file";
    EXPECT_EQ(evaluate_range("bytes=0-0,0-0,0-0", std::nullopt, "\"e\"", 0, 1000, 2).result,
              o::full)
        << "counted before merging";
}

TEST(ranges, if_range)
{
    using o = range_request::outcome;
    EXPECT_EQ(evaluate_range("bytes=0-1", "\"e\"", "\"e\"", 0, 10, 16).result, o::partial);
    EXPECT_EQ(evaluate_range("bytes=0-1", "\"old\"", "\"e\"", 0, 10, 16).result, o::full);
    EXPECT_EQ(
        evaluate_range("bytes=0-1", "Sun, 06 Nov 1994 08:49:37 GMT", "\"e\"", nov_1994, 10, 16)
            .result,
        o::partial);
    EXPECT_EQ(
        evaluate_range("bytes=0-1", "Sun, 06 Nov 1994 08:49:37 GMT", "\"e\"", nov_1994 + 1, 10, 16)
            .result,
        o::full);
}

TEST(accept_encoding, q_values)
{
    auto const none = parse_accept_encoding(std::nullopt);
    EXPECT_FALSE(none.br);
    EXPECT_FALSE(none.gzip);
    auto const both = parse_accept_encoding("gzip, deflate, br");
    EXPECT_TRUE(both.br);
    EXPECT_TRUE(both.gzip);
    auto const no_br = parse_accept_encoding("br;q=0, gzip;q=0.5");
    EXPECT_FALSE(no_br.br);
    EXPECT_TRUE(no_br.gzip);
    auto const star = parse_accept_encoding("*;q=0.1, gzip;q=0.000");
    EXPECT_TRUE(star.br);
    EXPECT_FALSE(star.gzip);
    EXPECT_FALSE(parse_accept_encoding("identity").gzip);
    EXPECT_TRUE(parse_accept_encoding("GZIP;Q=1").gzip);
}

} // namespace
} // namespace hello_async
