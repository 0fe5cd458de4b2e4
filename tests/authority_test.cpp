#include "hello_async/http/authority.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace hello_async {
namespace {

struct valid_case
{
    char const* text;
    char const* host;
    std::uint16_t port;
};

TEST(authority, valid_values_parse_to_host_and_port)
{
    std::string const longest_label(63, 'a');
    std::string const longest_name = longest_label + "." + longest_label + "." + longest_label +
                                     "." + std::string(61, 'b'); // 253 characters
    ASSERT_EQ(longest_name.size(), 253U);
    valid_case const cases[] = {
        {"example.com", "example.com", 0},
        {"EXAMPLE.Com", "example.com", 0},
        {"example.com.", "example.com", 0},
        {"example.com:80", "example.com", 80},
        {"example.com:", "example.com", 0},
        {"example.com.:8080", "example.com", 8080},
        {"localhost", "localhost", 0},
        {"a", "a", 0},
        {"under_score.example", "under_score.example", 0},
        {"xn--bcher-kva.example", "xn--bcher-kva.example", 0},
        {"1-2-3.example", "1-2-3.example", 0},
        {"123.40.56.78", "123.40.56.78", 0},
        {"127.0.0.1:7878", "127.0.0.1", 7878},
        {"host:1", "host", 1},
        {"host:65535", "host", 65535},
        {"host:00080", "host", 80},
        {"[::1]", "[::1]", 0},
        {"[::1]:7878", "[::1]", 7878},
        {"[abcd::ef98:0:7654:321]", "[abcd::ef98:0:7654:321]", 0},
        {"[ABCD::EF98]:443", "[abcd::ef98]", 443},
        {"[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]", 0},
        {"[2001:db8::]:", "[2001:db8::]", 0},
        {"[v1.fe80::a+en1]", "[v1.fe80::a+en1]", 0},
        {"[vF.x]", "[vf.x]", 0},
    };
    for (auto const& c : cases) {
        auto const parsed = parse_authority(c.text);
        ASSERT_TRUE(parsed.has_value()) << c.text;
        EXPECT_EQ(parsed->host, c.host) << c.text;
        EXPECT_EQ(parsed->port, c.port) << c.text;
    }
    EXPECT_TRUE(parse_authority(longest_name).has_value());
    EXPECT_TRUE(parse_authority(longest_label + ".example").has_value());
}

TEST(authority, invalid_values_are_refused)
{
    std::string const long_label(64, 'a');
    std::string const long_name = std::string(63, 'a') + "." + std::string(63, 'a') + "." +
                                  std::string(63, 'a') + "." + std::string(62, 'b'); // 254
    for (std::string const& text : std::initializer_list<std::string>{
             "",
             ".",
             "..",
             ".example.com",
             "example..com",
             "example.com..",
             "123.40.56.78:9000:80",
             "example.com/\\:552",
             "example.com/",
             "exa mple.com",
             "example.com:0",
             "example.com:65536",
             "example.com:123456",
             "example.com:-1",
             "example.com:+80",
             "example.com:http",
             "user@example.com",
             "exa%41mple.com",
             "example.com;x",
             "example!.com",
             "[::1",
             "::1",
             "[::1]x",
             "[::1]:x",
             "x[::1]",
             "[]",
             "[::g]",
             "[fe80::1%25eth0]",
             "[fe80::1%eth0]",
             "[1.2.3.4]",
             "[v.x]",
             "[v1.]",
             "[vg.x]",
             ":80",
             long_label + ".example",
             long_name,
         })
        EXPECT_FALSE(parse_authority(text).has_value()) << '"' << text << '"';
}

} // namespace
} // namespace hello_async
