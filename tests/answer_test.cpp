// answer() driven directly, without sockets: one table of requests and what each must get.
#include "hello_async/http/answer.hpp"
#include "hello_async/http/static_files.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "support/daemon_process.hpp"

namespace hello_async {
namespace {

namespace http = boost::beast::http;
using testing::temp_dir;

/// One request of the table and the answer it must get.
struct answer_case
{
    std::string method{};
    std::string target{};
    std::vector<std::pair<http::field, std::string>> fields{};
    unsigned status{0};
    std::string body{};          ///< empty: not checked
    std::string allow{};         ///< empty: must be absent
    std::string content_range{}; ///< empty: must be absent
    bool must_close{false};
    bool send_body{true};
    unsigned version{11};
};

std::ostream& operator<<(std::ostream& out, answer_case const& c)
{
    return out << c.method << ' ' << c.target << " HTTP/" << c.version / 10 << '.' << c.version % 10
               << " (" << c.fields.size() << " fields)";
}

constexpr char const* page_text = "0123456789abcdefghij";

class answering : public ::testing::TestWithParam<answer_case>
{
  protected:
    static void SetUpTestSuite()
    {
        dir_ = std::make_unique<temp_dir>();
        dir_->write("hello.html", "hello\n");
        dir_->write("404.html", "not here\n");
        dir_->write("pub/page.txt", page_text);
        dir_->write("pub/style.css", "body {}\n");
        dir_->write("pub/style.css.gz", "GZIPPED");
        site_ = std::make_unique<site const>(load_config(
            dir_->write("site.toml", "[[route]]\npath = \"/\"\nfile = \"hello.html\"\n"
                                     "[[route]]\npath = \"/sleep\"\nfile = \"hello.html\"\n"
                                     "delay = \"5s\"\n"
                                     "[[static]]\nprefix = \"/pub/\"\ndir = \"pub\"\n"
                                     "[errors]\n404 = \"404.html\"\n")));
    }
    static void TearDownTestSuite()
    {
        site_.reset();
        dir_.reset();
    }

    static request_head head_of(answer_case const& c)
    {
        request_head head;
        head.method_string(c.method);
        head.target(c.target);
        head.version(c.version);
        head.set(http::field::host, "example.com");
        for (auto const& [name, value] : c.fields)
            head.set(name, value);
        return head;
    }

    static std::string body_of(response_plan const& plan)
    {
        auto const& body = plan.body;
        if (!body.parts.empty()) {
            // The bytes of the parts' regions, without their delimiters and headers.
            std::string out;
            for (auto const& part : body.parts) {
                std::string region;
                if (body.cached) {
                    region = body.cached->substr(part.offset, part.length);
                } else if (part.length > 0) {
                    EXPECT_TRUE(read_span(body.file.get(), part.offset, part.length, region));
                }
                out += region;
            }
            return out;
        }
        if (body.cached)
            return body.cached->substr(body.offset, body.length);
        if (body.file) {
            std::string out;
            EXPECT_TRUE(read_span(body.file.get(), body.offset, body.length, out));
            return out;
        }
        return body.bytes;
    }

    static std::unique_ptr<temp_dir> dir_;
    static std::unique_ptr<site const> site_;
};

std::unique_ptr<temp_dir> answering::dir_;
std::unique_ptr<site const> answering::site_;

TEST_P(answering, gives_the_status_fields_and_body_the_rfcs_require)
{
    auto const& c = GetParam();
    auto const head = head_of(c);
    auto const plan = answer(*site_, head, {true, c.version == 10});
    ASSERT_EQ(plan.delay.count(), 0);
    EXPECT_EQ(plan.head.status, c.status);
    EXPECT_EQ(plan.must_close, c.must_close);
    EXPECT_EQ(plan.head.keep_alive, !c.must_close);
    EXPECT_EQ(plan.send_body, c.send_body);
    EXPECT_EQ(plan.head.allow, c.allow);
    EXPECT_EQ(plan.head.content_range, c.content_range);
    if (!c.body.empty()) {
        EXPECT_EQ(body_of(plan), c.body);
    }
    if (!plan.head.omit_content_length && plan.body.parts.empty()) {
        EXPECT_EQ(plan.head.content_length, body_of(plan).size());
    }
}

using f = http::field;
constexpr char const* long_ago = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr char const* far_ahead = "Fri, 01 Jan 2100 00:00:00 GMT";

INSTANTIATE_TEST_SUITE_P(
    table,
    answering,
    ::testing::Values(
        answer_case{.method = "GET", .target = "/", .status = 200, .body = "hello\n"},
        answer_case{.method = "HEAD", .target = "/", .status = 200, .send_body = false},
        answer_case{.method = "GET", .target = "/nope", .status = 404, .body = "not here\n"},
        answer_case{.method = "GET", .target = "/pub/page.txt", .status = 200, .body = page_text},
        answer_case{
            .method = "GET", .target = "/", .status = 200, .body = "hello\n", .version = 10},
        // Preconditions (RFC 9110 §13.2.2).
        answer_case{.method = "GET",
                    .target = "/pub/page.txt",
                    .fields = {{f::if_none_match, "*"}},
                    .status = 304,
                    .send_body = false},
        answer_case{.method = "HEAD",
                    .target = "/pub/page.txt",
                    .fields = {{f::if_none_match, "*"}},
                    .status = 304,
                    .send_body = false},
        answer_case{.method = "GET",
                    .target = "/pub/page.txt",
                    .fields = {{f::if_modified_since, far_ahead}},
                    .status = 304,
                    .send_body = false},
        answer_case{.method = "GET",
                    .target = "/pub/page.txt",
                    .fields = {{f::if_modified_since, long_ago}},
                    .status = 200,
                    .body = page_text},
        answer_case{.method = "GET",
                    .target = "/pub/page.txt",
                    .fields = {{f::if_match, "\"nope\""}},
                    .status = 412},
        answer_case{.method = "GET",
                    .target = "/pub/page.txt",
                    .fields = {{f::if_unmodified_since, long_ago}},
                    .status = 412},
        answer_case{.method = "GET",
                    .target = "/pub/page.txt",
                    .fields = {{f::if_match, "*"}},
                    .status = 200,
                    .body = page_text},
        // Ranges (RFC 9110 §14).
        answer_case{.method = "GET",
                    .target = "/pub/page.txt",
                    .fields = {{f::range, "bytes=0-3"}},
                    .status = 206,
                    .body = "0123",
                    .content_range = "bytes 0-3/20"},
        answer_case{.method = "GET",
                    .target = "/pub/page.txt",
                    .fields = {{f::range, "bytes=-5"}},
                    .status = 206,
                    .body = "fghij",
                    .content_range = "bytes 15-19/20"},
        answer_case{.method = "GET",
                    .target = "/pub/page.txt",
                    .fields = {{f::range, "bytes=15-"}},
                    .status = 206,
                    .body = "fghij",
                    .content_range = "bytes 15-19/20"},
        answer_case{.method = "GET",
                    .target = "/pub/page.txt",
                    .fields = {{f::range, "bytes=50-60"}},
                    .status = 416,
                    .content_range = "bytes */20"},
        answer_case{.method = "GET",
                    .target = "/pub/page.txt",
                    .fields = {{f::range, "bytes=0-1,3-4"}},
                    .status = 206,
                    .body = "0134"},
        answer_case{.method = "GET",
                    .target = "/pub/page.txt",
                    .fields = {{f::range, "bytes=9-1"}},
                    .status = 200,
                    .body = page_text},
        answer_case{.method = "GET",
                    .target = "/pub/page.txt",
                    .fields = {{f::range, "bytes=0-1"}, {f::if_range, "\"old\""}},
                    .status = 200,
                    .body = page_text},
        answer_case{.method = "HEAD",
                    .target = "/pub/page.txt",
                    .fields = {{f::range, "bytes=0-3"}},
                    .status = 200,
                    .send_body = false},
        // Methods: 405 with Allow, 501 for a method nobody knows, OPTIONS.
        answer_case{.method = "PUT",
                    .target = "/pub/page.txt",
                    .status = 405,
                    .allow = "GET, HEAD, OPTIONS"},
        answer_case{.method = "POST", .target = "/", .status = 405, .allow = "GET, HEAD, OPTIONS"},
        answer_case{.method = "FROBNICATE", .target = "/", .status = 501},
        answer_case{.method = "OPTIONS",
                    .target = "/pub/page.txt",
                    .status = 204,
                    .allow = "GET, HEAD, OPTIONS",
                    .send_body = false},
        answer_case{.method = "OPTIONS",
                    .target = "*",
                    .status = 204,
                    .allow = "GET, HEAD, OPTIONS",
                    .send_body = false},
        answer_case{.method = "GET", .target = "*", .status = 400, .must_close = true},
        // Versions and targets that cannot be trusted: answered, then the connection closes.
        answer_case{
            .method = "GET", .target = "/", .status = 505, .must_close = true, .version = 20},
        answer_case{.method = "GET", .target = "no-slash", .status = 400, .must_close = true},
        answer_case{.method = "GET", .target = "/pub/%00", .status = 404, .body = "not here\n"}));

class answer_details : public answering
{
};

TEST_F(answer_details, a_delayed_route_asks_for_its_delay_then_answers)
{
    answer_case const c{.method = "GET", .target = "/sleep", .status = 200};
    auto const head = head_of(c);
    auto const first = answer(*site_, head, {});
    EXPECT_EQ(first.delay, std::chrono::seconds{5});
    EXPECT_FALSE(first.body.file);
    EXPECT_FALSE(first.body.cached) << "a sleeping request holds no file";
    auto const later = answer_after_delay(*site_, head, {});
    EXPECT_EQ(later.delay.count(), 0);
    EXPECT_EQ(later.head.status, 200U);
    EXPECT_EQ(body_of(later), "hello\n");
}

TEST_F(answer_details, the_connection_terms_reach_the_head)
{
    answer_case const c{.method = "GET", .target = "/", .status = 200};
    auto const closing = answer(*site_, head_of(c), {false, false});
    EXPECT_FALSE(closing.head.keep_alive);
    EXPECT_FALSE(closing.must_close) << "a client's Connection: close is no reason to linger";
    auto const old_client = answer(*site_, head_of(c), {true, true});
    EXPECT_TRUE(old_client.head.client_is_http10);
}

TEST_F(answer_details, validators_survive_a_move_of_the_plan)
{
    answer_case const c{.method = "GET",
                        .target = "/pub/page.txt",
                        .fields = {{http::field::range, "bytes=1-2"}},
                        .status = 206};
    auto plan = answer(*site_, head_of(c), {});
    std::string const etag{plan.head.etag};
    std::string const range{plan.head.content_range};
    auto const moved = std::move(plan);
    EXPECT_EQ(moved.head.etag, etag);
    EXPECT_EQ(moved.head.content_range, range);
    EXPECT_EQ(range, "bytes 1-2/20");
    EXPECT_EQ(etag.front(), '"');
}

TEST_F(answer_details, an_etag_from_a_200_gives_304_and_repeats_itself)
{
    answer_case const c{.method = "GET", .target = "/pub/page.txt", .status = 200};
    auto const full = answer(*site_, head_of(c), {});
    auto conditional = c;
    conditional.fields = {{http::field::if_none_match, std::string{full.head.etag}}};
    auto const validated = answer(*site_, head_of(conditional), {});
    EXPECT_EQ(validated.head.status, 304U);
    EXPECT_EQ(validated.head.etag, full.head.etag);
    EXPECT_TRUE(validated.head.omit_content_length);
}

TEST_F(answer_details, a_precompressed_sibling_is_chosen_by_accept_encoding)
{
    answer_case const c{.method = "GET",
                        .target = "/pub/style.css",
                        .fields = {{http::field::accept_encoding, "gzip"}},
                        .status = 200};
    auto const plan = answer(*site_, head_of(c), {});
    EXPECT_EQ(plan.head.content_encoding, "gzip");
    EXPECT_TRUE(plan.head.vary_accept_encoding);
    EXPECT_EQ(body_of(plan), "GZIPPED");
}

TEST_F(answer_details, several_ranges_make_a_multipart_body_of_known_length)
{
    answer_case const c{.method = "GET",
                        .target = "/pub/page.txt",
                        .fields = {{http::field::range, "bytes=10-11,0-1"}},
                        .status = 206};
    auto const plan = answer(*site_, head_of(c), {});
    EXPECT_EQ(plan.head.status, 206U);
    EXPECT_EQ(plan.head.content_type.rfind("multipart/byteranges; boundary=", 0), 0U);
    ASSERT_EQ(plan.body.parts.size(), 3U) << "two ranges and the closing delimiter";
    std::uint64_t length = 0;
    for (auto const& part : plan.body.parts)
        length += part.text.size() + part.length;
    EXPECT_EQ(plan.head.content_length, length);
    EXPECT_NE(plan.body.parts[0].text.find("Content-Range: bytes 0-1/20"), std::string::npos);
    EXPECT_NE(plan.body.parts[1].text.find("Content-Range: bytes 10-11/20"), std::string::npos);
    EXPECT_TRUE(plan.body.parts[2].text.ends_with("--\r\n"));
    EXPECT_EQ(body_of(plan), "01ab");
}

TEST_F(answer_details, a_refusal_closes_and_shows_its_page)
{
    auto const plan = answer_refusal(*site_, 400);
    EXPECT_EQ(plan.head.status, 400U);
    EXPECT_TRUE(plan.must_close);
    EXPECT_FALSE(plan.head.keep_alive);
    EXPECT_NE(body_of(plan).find("400 Bad Request"), std::string::npos);
}

} // namespace
} // namespace hello_async
