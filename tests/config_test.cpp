#include "hello_async/http/config.hpp"
#include "hello_async/http/limits.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/daemon_process.hpp"

namespace hello_async {
namespace {

namespace fs = std::filesystem;
using testing::temp_dir;

/// Loads `text` from a file in a fresh directory that holds hello.html and static/.
class config_file : public ::testing::Test
{
  protected:
    config_file()
    {
        dir_.write("hello.html", "<h1>hi</h1>\n");
        dir_.write("static/index.html", "index\n");
    }

    config load(std::string const& text) const
    {
        return load_config(dir_.write("site.toml", text));
    }

    /// The error message for `text`, which must be refused.
    std::string error_for(std::string const& text) const
    {
        try {
            static_cast<void>(load(text));
        } catch (config_error const& e) {
            return e.what();
        }
        ADD_FAILURE() << "config was accepted:\n" << text;
        return {};
    }

    std::string where(int line) const
    {
        return (dir_.path() / "site.toml").string() + ":" + std::to_string(line) + ":";
    }

    temp_dir dir_;
};

TEST_F(config_file, minimal_config_has_defaults)
{
    auto const cfg = load("[[route]]\npath = \"/\"\nfile = \"hello.html\"\n");
    ASSERT_EQ(cfg.routes.size(), 1U);
    EXPECT_EQ(cfg.routes[0].file, dir_.path() / "hello.html");
    EXPECT_EQ(cfg.routes[0].status, 200U);
    EXPECT_EQ(cfg.server.listen.size(), 1U);
    EXPECT_EQ(cfg.server.listen[0].port(), 7878);
    EXPECT_EQ(cfg.server.root, dir_.path());
    EXPECT_TRUE(cfg.server.access_log);
}

TEST_F(config_file, relative_paths_resolve_against_the_config_directory)
{
    auto const cfg = load("[server]\nroot = \"static\"\n"
                          "[[route]]\npath = \"/\"\nfile = \"index.html\"\n"
                          "[[static]]\nprefix = \"/s\"\ndir = \"static\"\n");
    EXPECT_EQ(cfg.routes[0].file, dir_.path() / "static" / "index.html");
    EXPECT_EQ(cfg.statics[0].dir, dir_.path() / "static");
    EXPECT_EQ(cfg.statics[0].prefix, "/s/");
}

TEST_F(config_file, syntax_error_names_line_and_column)
{
    auto const message = error_for("[server]\nthreads = 2\nlisten = [\"[::]:1\"\n");
    EXPECT_NE(message.find(where(3)), std::string::npos) << message;
}

TEST_F(config_file, unknown_key_is_refused_with_line_and_key)
{
    auto const message = error_for("[server]\nthreads = 2\nthraeds = 3\n");
    EXPECT_NE(message.find(where(3)), std::string::npos) << message;
    EXPECT_NE(message.find("server.thraeds: unknown key"), std::string::npos) << message;
}

TEST_F(config_file, unknown_table_is_refused)
{
    auto const message = error_for("[sever]\nthreads = 2\n");
    EXPECT_NE(message.find(where(1)), std::string::npos) << message;
    EXPECT_NE(message.find("sever: unknown key"), std::string::npos) << message;
}

TEST_F(config_file, wrong_type_is_refused)
{
    auto const message = error_for("[server]\n\nthreads = \"four\"\n");
    EXPECT_NE(message.find(where(3)), std::string::npos) << message;
    EXPECT_NE(message.find("server.threads: expected an integer, found a string"),
              std::string::npos)
        << message;
}

TEST_F(config_file, out_of_range_integer_is_refused)
{
    auto const message = error_for("[limits]\nmax_connections = 0\n");
    EXPECT_NE(message.find(where(2)), std::string::npos) << message;
    EXPECT_NE(message.find("limits.max_connections: out of range"), std::string::npos) << message;
}

TEST_F(config_file, http2_table_is_read)
{
    auto const cfg =
        load("[http2]\nenabled = false\ncleartext = true\nmax_concurrent_streams = 7\n");
    EXPECT_FALSE(cfg.http2.enabled);
    EXPECT_TRUE(cfg.http2.cleartext);
    EXPECT_EQ(cfg.http2.max_concurrent_streams, 7U);
}

TEST_F(config_file, bad_http2_keys_are_refused)
{
    auto message = error_for("[http2]\nmax_concurrent_streams = 0\n");
    EXPECT_NE(message.find(where(2)), std::string::npos) << message;
    EXPECT_NE(message.find("http2.max_concurrent_streams: out of range"), std::string::npos)
        << message;
    message = error_for("[http2]\ncleartext = \"yes\"\n");
    EXPECT_NE(message.find("http2.cleartext: expected true or false"), std::string::npos)
        << message;
    message = error_for("[http2]\n\nupgrade = true\n");
    EXPECT_NE(message.find(where(3)), std::string::npos) << message;
    EXPECT_NE(message.find("http2.upgrade: unknown key"), std::string::npos) << message;
}

TEST_F(config_file, bad_duration_is_refused)
{
    auto const message =
        error_for("[[route]]\npath = \"/\"\nfile = \"hello.html\"\ndelay = \"5 seconds\"\n");
    EXPECT_NE(message.find(where(4)), std::string::npos) << message;
    EXPECT_NE(message.find("route[1].delay: bad duration \"5 seconds\""), std::string::npos)
        << message;
}

TEST_F(config_file, idle_exit_is_off_or_at_least_ten_seconds)
{
    using namespace std::chrono_literals;
    EXPECT_EQ(parse_config("", dir_.path() / "c.toml").server.idle_exit, 0ms);
    auto const parsed = [this](std::string const& value) {
        return parse_config("[server]\nidle_exit = \"" + value + "\"\n", dir_.path() / "c.toml")
            .server.idle_exit;
    };
    EXPECT_EQ(parsed("15min"), 15min);
    EXPECT_EQ(parsed("10s"), 10s);
    EXPECT_EQ(parsed("off"), 0ms);
    auto const message = error_for("[server]\n\nidle_exit = \"9s\"\n");
    EXPECT_NE(message.find(where(3)), std::string::npos) << message;
    EXPECT_NE(message.find("server.idle_exit: must be \"off\" or at least 10s"), std::string::npos)
        << message;
}

TEST_F(config_file, drop_ins_append_entries_and_override_keys_in_lexical_order)
{
    dir_.write("conf.d/20-later.toml",
               "[server]\naccess_log = true\n[limits]\nheader_bytes = 2048\n"
               "[[route]]\npath = \"/b\"\nfile = \"hello.html\"\n");
    dir_.write("conf.d/10-first.toml",
               "[server]\naccess_log = false\nthreads = 3\n[[route]]\npath = \"/a\"\n"
               "file = \"hello.html\"\n[[static]]\nprefix = \"/s/\"\ndir = \"static\"\n");
    // Not drop-ins: another extension, an editor's backup, a hidden file.
    dir_.write("conf.d/30-old.toml.dpkg-old", "[server]\nthreads = 9\n");
    dir_.write("conf.d/40-backup.toml~", "[server]\nthreads = 9\n");
    dir_.write("conf.d/.50-swap.toml", "[server]\nthreads = 9\n");
    auto const cfg = load("[server]\nthreads = 1\n[limits]\nbody_bytes = 100\n"
                          "[[route]]\npath = \"/\"\nfile = \"hello.html\"\n");
    ASSERT_EQ(cfg.routes.size(), 3U);
    EXPECT_EQ(cfg.routes[0].path, "/");
    EXPECT_EQ(cfg.routes[1].path, "/a");
    EXPECT_EQ(cfg.routes[2].path, "/b");
    ASSERT_EQ(cfg.statics.size(), 1U);
    EXPECT_EQ(cfg.statics[0].dir, dir_.path() / "static"); // relative to the main file
    EXPECT_EQ(cfg.server.threads, 3U);                     // 10-first overrides the main file
    EXPECT_TRUE(cfg.server.access_log);                    // 20-later overrides 10-first
    EXPECT_EQ(cfg.limits.header_bytes, 2048U);
    EXPECT_EQ(cfg.limits.body_bytes, 100U); // the main file's key stays beside them
    EXPECT_EQ(drop_ins_for(dir_.path() / "site.toml").size(), 2U);
}

TEST_F(config_file, a_route_repeated_in_a_drop_in_names_both_files)
{
    dir_.write("conf.d/extra.toml", "\n[[route]]\npath = \"/\"\nfile = \"hello.html\"\n");
    auto const message = error_for("[[route]]\npath = \"/\"\nfile = \"hello.html\"\n");
    auto const drop_in = (dir_.path() / "conf.d" / "extra.toml").string();
    EXPECT_NE(message.find(drop_in + ":3:"), std::string::npos) << message;
    EXPECT_NE(message.find("duplicate route \"/\", first at " + where(2)), std::string::npos)
        << message;
}

TEST_F(config_file, problems_in_a_drop_in_name_the_drop_in)
{
    auto const drop_in = (dir_.path() / "conf.d" / "bad.toml").string();
    dir_.write("conf.d/bad.toml", "[limits]\n\nheader_bytes = \"big\"\n");
    auto message = error_for("");
    EXPECT_NE(message.find(drop_in + ":3:"), std::string::npos) << message;
    EXPECT_NE(message.find("limits.header_bytes"), std::string::npos) << message;
    dir_.write("conf.d/bad.toml", "[server\n");
    message = error_for("");
    EXPECT_NE(message.find(drop_in + ":1:"), std::string::npos) << message;
    EXPECT_NE(message.find("syntax"), std::string::npos) << message;
    dir_.write("conf.d/bad.toml", "[serve]\nx = 1\n");
    message = error_for("");
    EXPECT_NE(message.find(drop_in + ":1:"), std::string::npos) << message;
    EXPECT_NE(message.find("serve: unknown key"), std::string::npos) << message;
}

TEST_F(config_file, duplicate_route_is_refused)
{
    auto const message = error_for("[[route]]\npath = \"/\"\nfile = \"hello.html\"\n"
                                   "[[route]]\npath = \"/\"\nfile = \"hello.html\"\n");
    EXPECT_NE(message.find(where(5)), std::string::npos) << message;
    EXPECT_NE(message.find("route[2].path: duplicate route \"/\""), std::string::npos) << message;
}

TEST_F(config_file, missing_route_file_is_refused)
{
    auto const message = error_for("[[route]]\npath = \"/\"\nfile = \"nope.html\"\n");
    EXPECT_NE(message.find(where(3)), std::string::npos) << message;
    EXPECT_NE(message.find("route[1].file: cannot open"), std::string::npos) << message;
    EXPECT_NE(message.find("nope.html"), std::string::npos) << message;
}

TEST_F(config_file, route_file_that_is_a_directory_is_refused)
{
    auto const message = error_for("[[route]]\npath = \"/\"\nfile = \"static\"\n");
    EXPECT_NE(message.find("route[1].file:"), std::string::npos) << message;
    EXPECT_NE(message.find("is not a regular file"), std::string::npos) << message;
}

TEST_F(config_file, missing_static_dir_is_refused)
{
    auto const message = error_for("[[static]]\nprefix = \"/s/\"\ndir = \"missing\"\n");
    EXPECT_NE(message.find(where(3)), std::string::npos) << message;
    EXPECT_NE(message.find("static[1].dir: cannot open directory"), std::string::npos) << message;
}

TEST_F(config_file, missing_required_key_is_refused)
{
    auto const message = error_for("[[route]]\nfile = \"hello.html\"\n");
    EXPECT_NE(message.find(where(1)), std::string::npos) << message;
    EXPECT_NE(message.find("route[1].path: missing (required)"), std::string::npos) << message;
}

TEST_F(config_file, bad_listen_address_is_refused)
{
    auto const message = error_for("[server]\nlisten = [\"::1:80\"]\n");
    EXPECT_NE(message.find(where(2)), std::string::npos) << message;
    EXPECT_NE(message.find("server.listen: bad address \"::1:80\""), std::string::npos) << message;
}

TEST_F(config_file, bad_error_status_is_refused)
{
    auto const message = error_for("[errors]\n200 = \"hello.html\"\n");
    EXPECT_NE(message.find(where(2)), std::string::npos) << message;
    EXPECT_NE(message.find("errors.200: expected an HTTP error status"), std::string::npos)
        << message;
}

TEST_F(config_file, missing_error_page_is_refused)
{
    auto const message = error_for("[errors]\n404 = \"404.html\"\n");
    EXPECT_NE(message.find("errors.404: cannot open"), std::string::npos) << message;
}

TEST_F(config_file, bad_route_path_is_refused)
{
    auto const message = error_for("[[route]]\npath = \"no-slash\"\nfile = \"hello.html\"\n");
    EXPECT_NE(message.find("route[1].path:"), std::string::npos) << message;
}

TEST_F(config_file, unsupported_method_is_refused)
{
    auto const message = error_for(
        "[[route]]\npath = \"/\"\nfile = \"hello.html\"\nmethods = [\"GET\", \"BREW\"]\n");
    EXPECT_NE(message.find(where(4)), std::string::npos) << message;
    EXPECT_NE(message.find("route[1].methods: unsupported method \"BREW\""), std::string::npos)
        << message;
}

TEST_F(config_file, missing_file_names_the_file)
{
    try {
        static_cast<void>(load_config(dir_.path() / "absent.toml"));
        FAIL() << "missing config accepted";
    } catch (config_error const& e) {
        EXPECT_NE(std::string{e.what()}.find("absent.toml: cannot open"), std::string::npos)
            << e.what();
    }
}

TEST(config_defaults, repository_config_serves_the_three_pages_with_built_in_limits)
{
    auto const cfg = load_config(fs::path{HELLO_ASYNC_SOURCE_DIR} / "config" / "hello-async.toml");
    // Short on purpose: every default comes from the code (hello-async.toml(5) lists them).
    limits const built_in{};
    EXPECT_EQ(cfg.limits.header_bytes, built_in.header_bytes);
    EXPECT_EQ(cfg.limits.keepalive_timeout, built_in.keepalive_timeout);
    EXPECT_EQ(cfg.server.root, fs::path{HELLO_ASYNC_SOURCE_DIR} / "www");
    ASSERT_EQ(cfg.server.listen.size(), 1U);
    EXPECT_EQ(cfg.server.listen[0].port(), default_port);
    ASSERT_EQ(cfg.routes.size(), 2U);
    EXPECT_EQ(cfg.routes[0].path, "/");
    EXPECT_EQ(cfg.routes[0].delay, std::chrono::seconds{0});
    EXPECT_EQ(cfg.routes[1].path, "/sleep");
    EXPECT_EQ(cfg.routes[1].delay, std::chrono::seconds{5});
    EXPECT_EQ(cfg.error_pages.at(404), fs::path{HELLO_ASYNC_SOURCE_DIR} / "www" / "404.html");
}

TEST(durations, accepted_forms)
{
    using namespace std::chrono_literals;
    EXPECT_EQ(parse_duration("250ms"), 250ms);
    EXPECT_EQ(parse_duration("5s"), 5s);
    EXPECT_EQ(parse_duration("2m"), 2min);
    EXPECT_EQ(parse_duration("15min"), 15min);
    EXPECT_EQ(parse_duration("1h"), 1h);
    EXPECT_EQ(parse_duration("0s"), 0ms);
}

TEST(durations, refused_forms)
{
    for (auto const* text : {"", "5", "s", "-1s", "5 s", "5sec", "1.5s", "99999999999h", "5S"})
        EXPECT_FALSE(parse_duration(text).has_value()) << text;
}

TEST(listen_addresses, forms)
{
    auto const any = parse_listen_address("[::]:7878");
    ASSERT_TRUE(any);
    EXPECT_TRUE(any->address().is_v6());
    EXPECT_EQ(any->port(), 7878);
    auto const v4 = parse_listen_address("127.0.0.1:80");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->address().to_string(), "127.0.0.1");
    EXPECT_TRUE(parse_listen_address("*:8080"));
    for (auto const* bad :
         {"7878", "::1:80", "[::1]", "host:80", "1.2.3.4:65536", "1.2.3.4:", "[::1:80"})
        EXPECT_FALSE(parse_listen_address(bad).has_value()) << bad;
}

} // namespace
} // namespace hello_async
