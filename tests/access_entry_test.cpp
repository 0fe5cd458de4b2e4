#include "hello_async/access_entry.hpp"

#include <gtest/gtest.h>

#include <syslog.h>

namespace hello_async {
namespace {

std::string format(access_entry const& entry)
{
    fmt::memory_buffer out;
    format_access_entry(out, entry);
    return fmt::to_string(out);
}

TEST(access_entry, parsed_request_round_trips)
{
    access_entry entry;
    entry.method = "GET";
    entry.target = "/sleep?x=1";
    entry.version = 11;
    entry.status = 200;
    entry.bytes = 320;
    entry.duration = std::chrono::microseconds{5000294};
    entry.peer = "[::1]:50464";
    auto const line = format(entry);
    EXPECT_EQ(line, "GET /sleep?x=1 HTTP/1.1 200 320 5000.294ms [::1]:50464");

    auto const fields = parse_access_line(line);
    ASSERT_TRUE(fields);
    EXPECT_EQ(fields->request_line, "GET /sleep?x=1 HTTP/1.1");
    EXPECT_EQ(fields->method, "GET");
    EXPECT_EQ(fields->target, "/sleep?x=1");
    EXPECT_EQ(fields->version, "1.1");
    EXPECT_EQ(fields->status, "200");
    EXPECT_EQ(fields->bytes, "320");
    EXPECT_EQ(fields->duration_usec, 5000294U);
    EXPECT_EQ(fields->remote, "[::1]:50464");
}

TEST(access_entry, short_durations_keep_their_digits)
{
    access_entry entry;
    entry.method = "HEAD";
    entry.target = "/";
    entry.version = 10;
    entry.status = 404;
    entry.duration = std::chrono::microseconds{7};
    entry.peer = "127.0.0.1:1";
    auto const line = format(entry);
    EXPECT_EQ(line, "HEAD / HTTP/1.0 404 0 0.007ms 127.0.0.1:1");
    EXPECT_EQ(parse_access_line(line)->duration_usec, 7U);
}

TEST(access_entry, unparsed_request_is_quoted_and_escaped)
{
    access_entry entry;
    entry.raw_line = "not http\x01 at all";
    entry.status = 400;
    entry.bytes = 10;
    entry.peer = "127.0.0.1:2";
    auto const line = format(entry);
    EXPECT_EQ(line, "\"not http\\x01 at all\" 400 10 0.000ms 127.0.0.1:2");
    auto const fields = parse_access_line(line);
    ASSERT_TRUE(fields);
    EXPECT_EQ(fields->request_line, "\"not http\\x01 at all\"");
    EXPECT_TRUE(fields->method.empty());
    EXPECT_EQ(fields->status, "400");
}

TEST(access_entry, control_bytes_in_the_target_are_escaped)
{
    access_entry entry;
    entry.method = "GET";
    entry.target = "/\x1b[2J";
    entry.status = 404;
    EXPECT_EQ(format(entry).rfind("GET /\\x1B[2J HTTP/1.1 404 ", 0), 0U);
}

TEST(access_entry, other_text_is_not_an_access_line)
{
    EXPECT_FALSE(parse_access_line("listening on [::]:7878; 2 I/O threads"));
    EXPECT_FALSE(parse_access_line(""));
    EXPECT_FALSE(parse_access_line("GET / HTTP/1.1 200 x 1.0ms peer"));
}

TEST(access_entry, priority_by_status_class)
{
    EXPECT_EQ(syslog_priority_for_status(200), LOG_INFO);
    EXPECT_EQ(syslog_priority_for_status(301), LOG_INFO);
    EXPECT_EQ(syslog_priority_for_status(404), LOG_NOTICE);
    EXPECT_EQ(syslog_priority_for_status(503), LOG_ERR);
}

} // namespace
} // namespace hello_async
