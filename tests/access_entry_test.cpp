#include "hello_async/http/access_entry.hpp"
#include "hello_async/server/logging.hpp"

#include <gtest/gtest.h>

#include <string>
#include <syslog.h>

namespace hello_async {
namespace {

std::string format(access_entry const& entry)
{
    std::string out;
    format_access_entry(out, entry);
    return out;
}

std::string journal_entry(access_entry const& entry)
{
    std::string out;
    append_access_journal_entry(out, entry, format(entry));
    return out;
}

TEST(access_entry, parsed_request_line_and_journal_fields)
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
    EXPECT_EQ(journal_entry(entry),
              "MESSAGE=GET /sleep?x=1 HTTP/1.1 200 320 5000.294ms [::1]:50464\n"
              "SYSLOG_IDENTIFIER=hello-async\n"
              "PRIORITY=6\n"
              "HTTP_STATUS=200\n"
              "HTTP_BYTES=320\n"
              "DURATION_USEC=5000294\n"
              "REMOTE_ADDR=[::1]:50464\n"
              "HTTP_METHOD=GET\n"
              "HTTP_TARGET=/sleep?x=1\n"
              "HTTP_VERSION=1.1\n");
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
    EXPECT_NE(journal_entry(entry).find("\nDURATION_USEC=7\n"), std::string::npos);
    EXPECT_NE(journal_entry(entry).find("\nHTTP_VERSION=1.0\n"), std::string::npos);
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
    EXPECT_EQ(journal_entry(entry), "MESSAGE=\"not http\\x01 at all\" 400 10 0.000ms 127.0.0.1:2\n"
                                    "SYSLOG_IDENTIFIER=hello-async\n"
                                    "PRIORITY=5\n"
                                    "HTTP_STATUS=400\n"
                                    "HTTP_BYTES=10\n"
                                    "DURATION_USEC=0\n"
                                    "REMOTE_ADDR=127.0.0.1:2\n")
        << "no method, target or version fields for a line that was not parsed";
}

TEST(access_entry, control_bytes_in_the_target_are_escaped)
{
    access_entry entry;
    entry.method = "GET";
    entry.target = "/\x1b[2J";
    entry.status = 404;
    EXPECT_EQ(format(entry).rfind("GET /\\x1B[2J HTTP/1.1 404 ", 0), 0U);
    EXPECT_NE(journal_entry(entry).find("\nHTTP_TARGET=/\\x1B[2J\n"), std::string::npos);
    EXPECT_EQ(journal_entry(entry).find('\x1b'), std::string::npos);
}

TEST(access_entry, a_missing_peer_is_a_dash)
{
    access_entry entry;
    entry.method = "GET";
    entry.target = "/";
    entry.status = 200;
    entry.duration = std::chrono::microseconds{1234567};
    EXPECT_EQ(format(entry), "GET / HTTP/1.1 200 0 1234.567ms -");
}

TEST(access_entry, priority_by_status_class)
{
    EXPECT_EQ(syslog_priority_for_status(200), LOG_INFO);
    EXPECT_EQ(syslog_priority_for_status(301), LOG_INFO);
    EXPECT_EQ(syslog_priority_for_status(404), LOG_NOTICE);
    EXPECT_EQ(syslog_priority_for_status(503), LOG_ERR);
}

TEST(escape_for_log, control_bytes_are_escaped)
{
    EXPECT_EQ(escape_for_log("GET /\x1b[31m"), "GET /\\x1B[31m");
    EXPECT_EQ(escape_for_log("a\nb\\"), "a\\x0Ab\\x5C");
    EXPECT_EQ(escape_for_log("plain"), "plain");
}

TEST(loggable, clean_text_is_shown_in_place_and_anything_else_escaped)
{
    std::string storage;
    std::string_view const clean{"/index.html?q=1"};
    auto const shown = loggable(clean, storage);
    EXPECT_EQ(shown.data(), clean.data()) << "clean text needs no copy";
    EXPECT_TRUE(storage.empty());
    for (std::string_view const dirty : {"/a\\b", "/\x7f", "/caf\xc3\xa9", "/\t"}) {
        EXPECT_EQ(loggable(dirty, storage), escape_for_log(dirty)) << dirty;
        EXPECT_NE(loggable(dirty, storage), dirty);
    }
}

} // namespace
} // namespace hello_async

TEST(access_entry, versions_read_as_sent_and_http2_as_2)
{
    using hello_async::version_text;
    EXPECT_EQ(version_text(10), "1.0");
    EXPECT_EQ(version_text(11), "1.1");
    EXPECT_EQ(version_text(20), "2.0"); // a request line that said HTTP/2.0
    EXPECT_EQ(version_text(hello_async::http2_version), "2");
}
