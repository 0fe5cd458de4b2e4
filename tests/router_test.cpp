#include "hello_async/http/router.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/daemon_process.hpp"

namespace hello_async {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using testing::temp_dir;

class routing : public ::testing::Test
{
  protected:
    routing()
    {
        dir_.write("hello.html", "hello\n");
        dir_.write("404.html", "not here\n");
        dir_.write("secret.txt", "outside the static dir\n");
        dir_.write("pub/index.html", "index\n");
        dir_.write("pub/app.js", "js\n");
        dir_.write("pub/docs/guide.txt", "guide\n");
        dir_.write("pub/nested/deeper/file.css", "css\n");
        fs::create_directory(dir_.path() / "pub" / "empty");
        fs::create_symlink(dir_.path() / "secret.txt", dir_.path() / "pub" / "escape.txt");
        fs::create_symlink("../secret.txt", dir_.path() / "pub" / "relative-escape.txt");
        fs::create_symlink("app.js", dir_.path() / "pub" / "inside.js");
        cfg_ = load_config(dir_.write("site.toml",
                                      "[[route]]\npath = \"/\"\nfile = \"hello.html\"\n"
                                      "[[route]]\npath = \"/sleep\"\nfile = \"hello.html\"\n"
                                      "delay = \"5s\"\n"
                                      "[[route]]\npath = \"/form\"\nfile = \"hello.html\"\n"
                                      "methods = [\"POST\"]\n"
                                      "[[route]]\npath = \"/pub/app.js\"\nfile = \"hello.html\"\n"
                                      "[[static]]\nprefix = \"/pub/\"\ndir = \"pub\"\n"
                                      "[[static]]\nprefix = \"/pub/docs/\"\ndir = \"pub/nested\"\n"
                                      "[errors]\n404 = \"404.html\"\n"));
    }

    std::string body_of(route_result const& plan) const
    {
        if (plan.file.content)
            return *plan.file.content;
        if (!plan.file.fd)
            return plan.built_in_body;
        std::string out;
        EXPECT_TRUE(read_whole(plan.file.fd.get(), plan.file.size, out));
        return out;
    }

    temp_dir dir_;
    config cfg_;
};

TEST_F(routing, exact_route)
{
    router const r{cfg_};
    auto const plan = r.route({http::verb::get, "/", {}});
    EXPECT_EQ(plan.status, 200U);
    EXPECT_EQ(body_of(plan), "hello\n");
    EXPECT_EQ(plan.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(plan.delay.count(), 0);
}

TEST_F(routing, delayed_route_carries_its_delay)
{
    router const r{cfg_};
    EXPECT_EQ(r.route({http::verb::get, "/sleep", {}}).delay, std::chrono::seconds{5});
}

TEST_F(routing, exact_route_wins_over_static_prefix)
{
    router const r{cfg_};
    EXPECT_EQ(body_of(r.route({http::verb::get, "/pub/app.js", {}})), "hello\n");
}

TEST_F(routing, unknown_path_gets_the_error_page)
{
    router const r{cfg_};
    auto const plan = r.route({http::verb::get, "/nope", {}});
    EXPECT_EQ(plan.status, 404U);
    EXPECT_EQ(body_of(plan), "not here\n");
}

TEST_F(routing, method_not_allowed_lists_allowed_methods)
{
    router const r{cfg_};
    auto const on_route = r.route({http::verb::delete_, "/", {}});
    EXPECT_EQ(on_route.status, 405U);
    EXPECT_EQ(on_route.allow, "GET, HEAD, OPTIONS");
    auto const post_only = r.route({http::verb::get, "/form", {}});
    EXPECT_EQ(post_only.status, 405U);
    EXPECT_EQ(post_only.allow, "POST, OPTIONS");
    EXPECT_EQ(r.route({http::verb::post, "/form", {}}).status, 200U);
    auto const on_static = r.route({http::verb::put, "/pub/index.html", {}});
    EXPECT_EQ(on_static.status, 405U);
    EXPECT_EQ(on_static.allow, "GET, HEAD, OPTIONS");
}

TEST_F(routing, options_answers_allow)
{
    router const r{cfg_};
    auto const plan = r.route({http::verb::options, "/", {}});
    EXPECT_EQ(plan.status, 204U);
    EXPECT_EQ(plan.allow, "GET, HEAD, OPTIONS");
}

TEST_F(routing, static_file_with_type)
{
    router const r{cfg_};
    auto const plan = r.route({http::verb::get, "/pub/docs/deeper/file.css", {}});
    EXPECT_EQ(plan.status, 200U) << "longest prefix /pub/docs/ maps to pub/nested";
    EXPECT_EQ(body_of(plan), "css\n");
    EXPECT_EQ(plan.content_type, "text/css; charset=utf-8");
}

TEST_F(routing, directory_url_serves_index_and_redirects_without_slash)
{
    router const r{cfg_};
    EXPECT_EQ(body_of(r.route({http::verb::get, "/pub/", {}})), "index\n");
    auto const redirect = r.route({http::verb::get, "/pub", {}});
    EXPECT_EQ(redirect.status, 301U);
    EXPECT_EQ(redirect.location, "/pub/");
    auto const nested = r.route({http::verb::get, "/pub/empty", {}});
    EXPECT_EQ(nested.status, 301U);
    EXPECT_EQ(nested.location, "/pub/empty/");
}

TEST_F(routing, directory_without_index_is_not_listed)
{
    router const r{cfg_};
    EXPECT_EQ(r.route({http::verb::get, "/pub/empty/", {}}).status, 403U);
}

TEST_F(routing, symlink_inside_is_served)
{
    router const r{cfg_};
    EXPECT_EQ(body_of(r.route({http::verb::get, "/pub/inside.js", {}})), "js\n");
}

TEST_F(routing, symlinks_leaving_the_directory_are_refused)
{
    router const r{cfg_};
    for (auto const* path : {"/pub/escape.txt", "/pub/relative-escape.txt"}) {
        auto const plan = r.route({http::verb::get, path, {}});
        EXPECT_EQ(plan.status, 403U) << path;
        EXPECT_EQ(body_of(plan).find("outside"), std::string::npos) << path;
    }
}

TEST_F(routing, dot_dot_in_an_unnormalized_path_cannot_escape_either)
{
    // Normalisation removes these before routing; the open itself must refuse them anyway.
    router const r{cfg_};
    auto const plan = r.route({http::verb::get, "/pub/../secret.txt", {}});
    EXPECT_NE(plan.status, 200U);
    EXPECT_EQ(body_of(plan).find("outside"), std::string::npos);
}

TEST_F(routing, precompressed_sibling_is_chosen_when_accepted)
{
    dir_.write("pub/app.css", "plain css\n");
    dir_.write("pub/app.css.br", "BROTLI");
    dir_.write("pub/app.css.gz", "GZIP");
    router const r{cfg_};
    auto const br = r.route({http::verb::get, "/pub/app.css", {true, true}});
    EXPECT_EQ(body_of(br), "BROTLI");
    EXPECT_EQ(br.content_coding, "br");
    EXPECT_EQ(br.content_type, "text/css; charset=utf-8");
    EXPECT_TRUE(br.varies_by_encoding);
    auto const gz = r.route({http::verb::get, "/pub/app.css", {false, true}});
    EXPECT_EQ(body_of(gz), "GZIP");
    EXPECT_EQ(gz.content_coding, "gzip");
    auto const plain = r.route({http::verb::get, "/pub/app.css", {}});
    EXPECT_EQ(body_of(plain), "plain css\n");
    EXPECT_TRUE(plain.content_coding.empty());
    auto const no_sibling = r.route({http::verb::get, "/pub/app.js", {true, true}});
    EXPECT_TRUE(no_sibling.content_coding.empty());
    EXPECT_FALSE(no_sibling.varies_by_encoding);
}

TEST_F(routing, vanished_error_page_falls_back_to_built_in)
{
    fs::remove(dir_.path() / "404.html");
    router const r{cfg_};
    auto const plan = r.route({http::verb::get, "/nope", {}});
    EXPECT_EQ(plan.status, 404U);
    EXPECT_NE(plan.built_in_body.find("404 Not Found"), std::string::npos);
}

} // namespace
} // namespace hello_async
