// The built daemon, started as a process on an ephemeral loopback port, spoken to over TCP.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "support/daemon_process.hpp"
#include "support/http_client.hpp"
#include "support/tcp_segments.hpp"

namespace hello_async::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class http_daemon : public ::testing::Test
{
  protected:
    void start(test_site const& site = {})
    {
        auto const config = dir_.write("test.toml", test_config(site));
        daemon_ =
            std::make_unique<daemon_process>(std::vector<std::string>{"--config", config.string()});
        port_ = daemon_->wait_for_port();
    }

    void SetUp() override { start(); }

    void TearDown() override
    {
        if (HasFailure() && daemon_)
            std::cerr << "daemon output:\n" << daemon_->output();
    }

    temp_dir dir_;
    std::unique_ptr<daemon_process> daemon_;
    unsigned short port_{0};
};

TEST_F(http_daemon, root_answers_hello_html)
{
    http_client client{port_};
    auto const r = client.get("/");
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.body, hello_page());
    EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(r.header("content-length"), std::to_string(hello_page().size()));
    EXPECT_TRUE(r.has("date"));
    EXPECT_EQ(r.header("server").rfind("hello-async/", 0), 0U);
}

TEST_F(http_daemon, accepted_connections_send_without_nagle_delay)
{
    // Back-to-back pipelined responses must not wait for the client's delayed ACK.
    http_client client{port_};
    EXPECT_EQ(client.get("/").status, 200U);
    auto const no_delay =
        server_side_no_delay(daemon_->pid(), client.socket().local_endpoint().port());
    ASSERT_TRUE(no_delay.has_value()) << "the daemon's end of the connection was not found";
    EXPECT_TRUE(*no_delay);
}

TEST_F(http_daemon, unknown_path_answers_404_page)
{
    http_client client{port_};
    auto const r = client.get("/nope");
    EXPECT_EQ(r.status, 404U);
    EXPECT_EQ(r.body, not_found_page());
    EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
}

TEST_F(http_daemon, sleep_answers_hello_after_five_seconds)
{
    http_client client{port_};
    auto const started = std::chrono::steady_clock::now();
    auto const r = client.get("/sleep");
    auto const elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.body, hello_page());
    EXPECT_GE(elapsed, 5s);
    EXPECT_LT(elapsed, 6s);
}

TEST_F(http_daemon, head_has_headers_and_no_body)
{
    for (auto const* target : {"/", "/nope"}) {
        http_client client{port_};
        client.send(request("HEAD", target, "Connection: close\r\n"));
        auto const [raw, closed] = client.read_until_close();
        EXPECT_TRUE(closed) << "Connection: close was not honoured";
        auto const split = raw.find("\r\n\r\n");
        ASSERT_NE(split, std::string::npos) << raw;
        EXPECT_EQ(split + 4, raw.size()) << "HEAD response carried a body: " << raw;
        auto const expected = std::string{target} == "/" ? hello_page() : not_found_page();
        EXPECT_NE(raw.find("Content-Length: " + std::to_string(expected.size())), std::string::npos)
            << raw;
        EXPECT_EQ(raw.rfind(std::string{target} == "/" ? "HTTP/1.1 200" : "HTTP/1.1 404", 0), 0U)
            << raw;
    }
}

TEST_F(http_daemon, keep_alive_serves_two_requests_on_one_connection)
{
    http_client client{port_};
    auto const first = client.get("/");
    auto const second = client.get("/nope");
    EXPECT_EQ(first.status, 200U);
    EXPECT_EQ(first.body, hello_page());
    EXPECT_EQ(second.status, 404U);
    EXPECT_EQ(second.body, not_found_page());
    EXPECT_FALSE(first.has("connection"));
}

TEST_F(http_daemon, connection_close_is_honoured)
{
    http_client client{port_};
    auto const r = client.get("/", "Connection: close\r\n");
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.header("connection"), "close");
    EXPECT_TRUE(client.peer_closed());
}

TEST_F(http_daemon, http10_closes_unless_keep_alive_is_asked)
{
    {
        http_client client{port_};
        client.send("GET / HTTP/1.0\r\n\r\n");
        auto const r = client.read_response();
        EXPECT_EQ(r.status, 200U);
        EXPECT_TRUE(client.peer_closed());
    }
    {
        http_client client{port_};
        client.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        auto const r = client.read_response();
        EXPECT_EQ(r.header("connection"), "keep-alive");
        client.send("GET /nope HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        EXPECT_EQ(client.read_response().status, 404U);
    }
}

TEST_F(http_daemon, pipelined_requests_are_answered_in_order)
{
    http_client client{port_};
    client.send(request("GET", "/nope") + request("HEAD", "/") + request("GET", "/"));
    auto const first = client.read_response();
    auto const second = client.read_response(true);
    auto const third = client.read_response();
    EXPECT_EQ(first.status, 404U);
    EXPECT_EQ(first.body, not_found_page());
    EXPECT_EQ(second.status, 200U);
    EXPECT_TRUE(second.body.empty());
    EXPECT_EQ(third.status, 200U);
    EXPECT_EQ(third.body, hello_page());
}

// Answers to pipelined requests leave together (MSG_MORE) when the next is ready at once. One
// the connection must then wait for is not held back: the kernel would keep it for 200 ms.
TEST_F(http_daemon, a_pipelined_answer_is_not_held_back_by_a_delayed_one)
{
    http_client client{port_};
    auto const started = std::chrono::steady_clock::now();
    client.send(request("GET", "/") + request("GET", "/sleep"));
    auto const first = client.read_response();
    auto const waited = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(first.status, 200U);
    EXPECT_LT(waited, 150ms) << "the first answer waited for the delayed one";
    auto const second = client.read_response();
    EXPECT_EQ(second.status, 200U);
    EXPECT_EQ(second.body, hello_page());
}

TEST_F(http_daemon, a_pipelined_answer_is_not_held_back_by_a_body_still_coming)
{
    http_client client{port_};
    auto const started = std::chrono::steady_clock::now();
    client.send(request("GET", "/") + request("GET", "/nope", "Content-Length: 10\r\n") + "ab");
    auto const first = client.read_response();
    auto const waited = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(first.status, 200U);
    EXPECT_LT(waited, 150ms) << "the first answer waited for the next request's body";
    client.send("cdefghij");
    EXPECT_EQ(client.read_response().status, 404U);
}

TEST_F(http_daemon, garbage_gets_400_and_close)
{
    http_client client{port_};
    client.send("this is not http\r\n\r\n");
    auto const [raw, closed] = client.read_until_close();
    EXPECT_TRUE(closed) << "the connection stayed open after a refusal";
    EXPECT_EQ(raw.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0U) << raw;
    EXPECT_NE(raw.find("Connection: close"), std::string::npos) << raw;
}

TEST_F(http_daemon, missing_host_in_http11_is_400)
{
    http_client client{port_};
    client.send("GET / HTTP/1.1\r\n\r\n");
    auto const [raw, closed] = client.read_until_close();
    EXPECT_TRUE(closed) << "the connection stayed open after a refusal";
    EXPECT_EQ(raw.rfind("HTTP/1.1 400", 0), 0U) << raw;
}

TEST_F(http_daemon, oversized_header_gets_431)
{
    http_client client{port_};
    std::string const big(64 * 1024, 'a');
    client.send(request("GET", "/", "X-Big: " + big + "\r\n"));
    auto const [raw, closed] = client.read_until_close();
    EXPECT_TRUE(closed) << "the connection stayed open after a refusal";
    EXPECT_EQ(raw.rfind("HTTP/1.1 431", 0), 0U) << raw.substr(0, 200);
}

TEST_F(http_daemon, oversized_request_line_gets_414)
{
    http_client client{port_};
    client.send(request("GET", "/" + std::string(64 * 1024, 'a')));
    auto const [raw, closed] = client.read_until_close();
    EXPECT_TRUE(closed) << "the connection stayed open after a refusal";
    EXPECT_EQ(raw.rfind("HTTP/1.1 414", 0), 0U) << raw.substr(0, 200);
}

TEST_F(http_daemon, body_on_get_is_discarded_and_the_next_request_still_parses)
{
    http_client client{port_};
    // The body looks like a request line: it must be consumed as body, not answered.
    client.send(request("GET", "/", "Content-Length: 19\r\n") + "GET /sleep HTTP/1.1" +
                request("GET", "/nope"));
    EXPECT_EQ(client.read_response().status, 200U);
    auto const second = client.read_response();
    EXPECT_EQ(second.status, 404U);
    client.send(request("GET", "/", "Transfer-Encoding: chunked\r\n") + "5\r\nGET /\r\n0\r\n\r\n" +
                request("GET", "/"));
    EXPECT_EQ(client.read_response().status, 200U);
    EXPECT_EQ(client.read_response().body, hello_page());
}

TEST_F(http_daemon, body_over_the_limit_gets_413)
{
    http_client client{port_};
    client.send(request("GET", "/", "Content-Length: 10000000000\r\n"));
    auto const [raw, closed] = client.read_until_close();
    EXPECT_TRUE(closed) << "the connection stayed open after a refusal";
    EXPECT_EQ(raw.rfind("HTTP/1.1 413", 0), 0U) << raw.substr(0, 200);
}

TEST_F(http_daemon, percent_encoded_route_matches)
{
    http_client client{port_};
    EXPECT_EQ(client.get("/%2e/?q=1").body, hello_page());
}

TEST_F(http_daemon, absolute_form_target_is_routed)
{
    http_client client{port_};
    EXPECT_EQ(client.get("http://localhost/").body, hello_page());
}

class http_static : public http_daemon
{
  protected:
    void SetUp() override
    {
        dir_.write("outside.txt", "SECRET OUTSIDE\n");
        dir_.write("pub/index.html", "public index\n");
        dir_.write("pub/sub/page.txt", "page\n");
        fs::create_symlink(dir_.path() / "outside.txt", dir_.path() / "pub" / "link.txt");
        start(test_site{.extra = "[[static]]\nprefix = \"/files/\"\ndir = \"pub\"\n"});
    }
};

TEST_F(http_static, serves_files_and_index)
{
    http_client client{port_};
    auto const page = client.get("/files/sub/page.txt");
    EXPECT_EQ(page.status, 200U);
    EXPECT_EQ(page.body, "page\n");
    EXPECT_EQ(page.header("content-type"), "text/plain; charset=utf-8");
    EXPECT_EQ(client.get("/files/").body, "public index\n");
    auto const redirect = client.get("/files/sub");
    EXPECT_EQ(redirect.status, 301U);
    EXPECT_EQ(redirect.header("location"), "/files/sub/");
}

TEST_F(http_static, traversal_attempts_are_refused)
{
    for (auto const* target :
         {"/files/../outside.txt", "/files/%2e%2e/outside.txt", "/files/%2E%2E%2Foutside.txt",
          "/files/..%2f..%2foutside.txt", "/files/link.txt", "/files/page.txt%00.html",
          "/files/../../../../etc/passwd"})
    {
        http_client client{port_};
        auto const r = client.get(target);
        EXPECT_TRUE(r.status == 403U || r.status == 404U) << target << " -> " << r.status;
        EXPECT_EQ(r.body.find("SECRET"), std::string::npos) << target;
        EXPECT_EQ(r.body.find("root:"), std::string::npos) << target;
    }
}

TEST_F(http_daemon, concurrent_sleeps_run_in_parallel)
{
    start(test_site{.sleep_delay = "1s"});
    constexpr int clients = 200;
    std::vector<std::unique_ptr<http_client>> connections;
    auto const started = std::chrono::steady_clock::now();
    for (int i = 0; i < clients; ++i) {
        connections.push_back(std::make_unique<http_client>(port_));
        connections.back()->send(request("GET", "/sleep"));
    }
    int ok = 0;
    for (auto& c : connections) {
        auto const r = c->read_response();
        ok += (r.status == 200U && r.body == hello_page()) ? 1 : 0;
    }
    auto const elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(ok, clients);
    EXPECT_GE(elapsed, 1s);
    EXPECT_LT(elapsed, 3s) << "sleeping requests were served one after another";
}

TEST_F(http_daemon, a_connection_goes_on_after_a_delayed_answer)
{
    start(test_site{.sleep_delay = "1s"});
    http_client client{port_};
    // One request sent during the delay, one after it: both on the same connection.
    client.send(request("GET", "/sleep") + request("GET", "/nope"));
    auto const slept = client.read_response();
    EXPECT_EQ(slept.status, 200U);
    EXPECT_EQ(slept.body, hello_page());
    auto const buffered = client.read_response();
    EXPECT_EQ(buffered.status, 404U);
    auto const after = client.get("/");
    EXPECT_EQ(after.status, 200U);
    EXPECT_EQ(after.body, hello_page());
}

TEST_F(http_daemon, an_answer_before_a_close_carries_the_fin)
{
    // The close sends the answer, and its FIN in the same segment: the client's TCP takes one
    // segment, not the answer and then a FIN on its own.
    start(test_site{.sleep_delay = "1s"});
    struct closing_exchange
    {
        char const* what;
        std::string requests;
        std::size_t answers;
    };
    auto const exchanges = {
        closing_exchange{"Connection: close", request("GET", "/", "Connection: close\r\n"), 1},
        closing_exchange{"HTTP/1.0", "GET /nope HTTP/1.0\r\n\r\n", 1},
        closing_exchange{"after a delay", request("GET", "/sleep", "Connection: close\r\n"), 1},
        closing_exchange{"pipelined",
                         request("GET", "/") + request("GET", "/nope", "Connection: close\r\n"), 2},
    };
    for (auto const& exchange : exchanges) {
        http_client client{port_};
        auto const before = segments_received_by(client.socket().native_handle());
        ASSERT_TRUE(before.has_value()) << "the kernel gives no segment counts";
        client.send(exchange.requests);
        auto const [raw, closed] = client.read_until_close();
        auto const after = segments_received_by(client.socket().native_handle());
        ASSERT_TRUE(after.has_value());
        EXPECT_TRUE(closed) << exchange.what;
        std::size_t answers = 0;
        for (auto at = raw.find("HTTP/1."); at != std::string::npos;
             at = raw.find("HTTP/1.", at + 1))
            ++answers;
        EXPECT_EQ(answers, exchange.answers) << exchange.what << ":\n" << raw;
        auto const with_data = after->carrying_data - before->carrying_data;
        auto const without_data = (after->all - before->all) - with_data;
        EXPECT_EQ(with_data, 1U) << exchange.what;
        // The one without data is the ACK of the request; a FIN alone would be a second.
        EXPECT_LE(without_data, 1U) << exchange.what;
    }
}

TEST_F(http_daemon, access_log_has_the_request_line)
{
    http_client client{port_};
    static_cast<void>(client.get("/nope?x=1"));
    EXPECT_TRUE(daemon_->wait_for_output("GET /nope?x=1 HTTP/1.1 404 "));
}

TEST_F(http_daemon, sigterm_exits_zero)
{
    daemon_->signal(SIGTERM);
    EXPECT_EQ(daemon_->wait_exit(), 0);
}

TEST(check_config, exit_codes)
{
    temp_dir dir;
    auto const good = dir.write("good.toml", test_config());
    auto const ok = run_daemon({"--check-config", "--config", good.string()});
    EXPECT_EQ(ok.status, 0) << ok.output;

    auto const bad = dir.write("bad.toml", test_config() + "\n[limits]\nheader_timeout = \"x\"\n");
    auto const refused = run_daemon({"--check-config", "--config", bad.string()});
    EXPECT_EQ(refused.status, 78) << refused.output;

    auto const typo = dir.write("typo.toml", "[server]\nthreads = 1\nlisten = 5\n");
    auto const typo_result = run_daemon({"--check-config", "--config", typo.string()});
    EXPECT_EQ(typo_result.status, 78);
    EXPECT_NE(typo_result.output.find(typo.string() + ":3:"), std::string::npos)
        << typo_result.output;
    EXPECT_NE(typo_result.output.find("server.listen"), std::string::npos) << typo_result.output;

    auto const missing = run_daemon({"--check-config", "--config", (dir.path() / "no").string()});
    EXPECT_EQ(missing.status, 78);
}

TEST(check_config, serving_with_a_broken_config_exits_78)
{
    temp_dir dir;
    auto const bad = dir.write("bad.toml", "[server]\nroot = \"/nonexistent-dir\"\n");
    auto const r = run_daemon({"--config", bad.string()});
    EXPECT_EQ(r.status, 78) << r.output;
    EXPECT_NE(r.output.find("server.root"), std::string::npos) << r.output;
}

TEST(command_line_run, version_help_and_usage)
{
    auto const version = run_daemon({"--version"});
    EXPECT_EQ(version.status, 0);
    EXPECT_EQ(version.output.rfind("hello-async/", 0), 0U) << version.output;
    auto const help = run_daemon({"--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.output.find("--check-config"), std::string::npos);
    EXPECT_EQ(run_daemon({"--bogus"}).status, 64);
}

TEST(listen_failure, address_in_use_is_a_clear_error)
{
    temp_dir dir;
    auto const first_config = dir.write("a.toml", test_config());
    daemon_process first{std::vector<std::string>{"--config", first_config.string()}};
    auto const port = first.wait_for_port();
    auto const config = test_config(test_site{.port = port});
    auto const second = run_daemon({"--config", dir.write("b.toml", config).string()});
    EXPECT_EQ(second.status, 1);
    EXPECT_NE(second.output.find("cannot listen on 127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << second.output;
}

} // namespace
} // namespace hello_async::testing
