#include "hello_async/http/request_path.hpp"

#include <gtest/gtest.h>

namespace hello_async {
namespace {

using outcome = normalized_target::outcome;

std::string path_of(std::string_view target)
{
    auto const n = normalize_target(target);
    EXPECT_EQ(n.result, outcome::ok) << target;
    return n.path;
}

TEST(normalize_target, plain_paths_stay)
{
    EXPECT_EQ(path_of("/"), "/");
    EXPECT_EQ(path_of("/sleep"), "/sleep");
    EXPECT_EQ(path_of("/a/b/"), "/a/b/");
}

TEST(normalize_target, query_is_dropped)
{
    EXPECT_EQ(path_of("/sleep?x=1"), "/sleep");
    EXPECT_EQ(path_of("/?"), "/");
}

TEST(normalize_target, percent_decoding)
{
    EXPECT_EQ(path_of("/%73leep"), "/sleep");
    EXPECT_EQ(path_of("/a%20b"), "/a b");
    EXPECT_EQ(path_of("/a%2Fb"), "/a/b");
}

TEST(normalize_target, dot_segments_are_removed)
{
    EXPECT_EQ(path_of("/a/./b"), "/a/b");
    EXPECT_EQ(path_of("/a/../b"), "/b");
    EXPECT_EQ(path_of("/a/b/.."), "/a/");
    EXPECT_EQ(path_of("/a//b"), "/a/b");
    EXPECT_EQ(path_of("/a/."), "/a/");
}

TEST(normalize_target, dot_dot_never_climbs_above_the_root)
{
    EXPECT_EQ(path_of("/.."), "/");
    EXPECT_EQ(path_of("/../../etc/passwd"), "/etc/passwd");
    EXPECT_EQ(path_of("/static/../../../etc/passwd"), "/etc/passwd");
}

TEST(normalize_target, encoded_dots_are_dot_segments_too)
{
    EXPECT_EQ(path_of("/static/%2e%2e/%2E%2E/etc/passwd"), "/etc/passwd");
    EXPECT_EQ(path_of("/static/..%2f..%2fetc/passwd"), "/etc/passwd");
    EXPECT_EQ(path_of("/static/%2e/x"), "/static/x");
}

TEST(normalize_target, nul_byte_is_refused)
{
    EXPECT_EQ(normalize_target("/a%00b").result, outcome::nul_byte);
}

TEST(normalize_target, broken_encoding_is_a_bad_request)
{
    for (auto const* target : {"/%", "/%4", "/%zz", "/%G0", "/a#frag"})
        EXPECT_EQ(normalize_target(target).result, outcome::bad_request) << target;
}

TEST(normalize_target, absolute_form_is_accepted)
{
    EXPECT_EQ(path_of("http://example.com/sleep?x"), "/sleep");
    EXPECT_EQ(path_of("HTTP://example.com"), "/");
    EXPECT_EQ(path_of("http://example.com?q"), "/");
}

TEST(normalize_target, other_forms_are_bad_requests)
{
    for (auto const* target : {"", "sleep", "example.com:443", "ftp://x/", "http:///x"})
        EXPECT_EQ(normalize_target(target).result, outcome::bad_request) << target;
}

TEST(encode_path, keeps_safe_bytes_and_encodes_the_rest)
{
    EXPECT_EQ(encode_path("/a/b-c_d.e~"), "/a/b-c_d.e~");
    EXPECT_EQ(encode_path("/a b"), "/a%20b");
    EXPECT_EQ(encode_path("/x\r\nSet-Cookie: y"), "/x%0D%0ASet-Cookie:%20y");
    EXPECT_EQ(encode_path("/%"), "/%25");
}

} // namespace
} // namespace hello_async
