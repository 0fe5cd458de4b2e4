// RFC 9110/9112 behaviour and hostile clients, against the built daemon over real TCP.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <thread>

#include "support/daemon_process.hpp"
#include "support/http_client.hpp"

namespace hello_async::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// Counts the responses in raw bytes read from a connection.
int responses_in(std::string const& raw)
{
    int count = 0;
    for (auto at = raw.find("HTTP/1.1 "); at != std::string::npos;
         at = raw.find("HTTP/1.1 ", at + 1))
        ++count;
    return count;
}

class hostile : public ::testing::Test
{
  protected:
    void SetUp() override { start(); }

    void start(std::string const& limits = {}, std::vector<std::string> wrapper = {})
    {
        big_ = std::string(300 * 1024, 'x');
        for (std::size_t i = 0; i < big_.size(); i += 64)
            big_[i] = static_cast<char>('a' + (i / 64) % 26);
        dir_.write("pub/big.bin", big_);
        dir_.write("pub/page.txt", "0123456789abcdefghij");
        dir_.write("pub/style.css", "body { color: red }\n");
        dir_.write("pub/style.css.gz", "GZIPPED");
        dir_.write("pub/style.css.br", "BROTLI");
        auto const config =
            dir_.write("test.toml", test_config("[[static]]\nprefix = \"/pub/\"\ndir = \"pub\"\n"
                                                "cache_control = \"max-age=60\"\n",
                                                limits));
        launch how;
        how.args = {"--config", config.string()};
        how.wrapper = std::move(wrapper);
        daemon_ = std::make_unique<daemon_process>(how);
        port_ = daemon_->wait_for_port();
    }

    void TearDown() override
    {
        if (HasFailure() && daemon_)
            std::cerr << "daemon output:\n" << daemon_->output().substr(0, 20000);
    }

    /// Sends raw bytes on a fresh connection; returns everything until the server closes.
    std::string exchange(std::string const& bytes)
    {
        http_client client{port_, "127.0.0.1", 5s};
        client.send(bytes);
        return client.read_until_close();
    }

    temp_dir dir_;
    std::string big_;
    std::unique_ptr<daemon_process> daemon_;
    unsigned short port_{0};
};

TEST_F(hostile, file_responses_carry_validators)
{
    http_client client{port_};
    auto const r = client.get("/pub/page.txt");
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.header("etag").front(), '"');
    EXPECT_FALSE(r.header("last-modified").empty());
    EXPECT_EQ(r.header("accept-ranges"), "bytes");
    EXPECT_EQ(r.header("cache-control"), "max-age=60");
    auto const root = client.get("/");
    EXPECT_FALSE(root.header("etag").empty());
    EXPECT_TRUE(root.header("cache-control").empty());
}

TEST_F(hostile, conditional_get_gives_304_without_body)
{
    http_client client{port_};
    auto const first = client.get("/pub/page.txt");
    auto const etag = first.header("etag");
    auto const by_etag = client.get("/pub/page.txt", "If-None-Match: " + etag + "\r\n");
    EXPECT_EQ(by_etag.status, 304U);
    EXPECT_TRUE(by_etag.body.empty());
    EXPECT_EQ(by_etag.header("etag"), etag);
    EXPECT_FALSE(by_etag.has("content-length"));
    auto const by_date =
        client.get("/pub/page.txt", "If-Modified-Since: " + first.header("last-modified") + "\r\n");
    EXPECT_EQ(by_date.status, 304U);
    // If-None-Match wins: a non-matching tag means 200 whatever the date says.
    auto const both = client.get(
        "/pub/page.txt",
        "If-None-Match: \"other\"\r\nIf-Modified-Since: " + first.header("last-modified") + "\r\n");
    EXPECT_EQ(both.status, 200U);
    EXPECT_EQ(both.body, "0123456789abcdefghij");
}

TEST_F(hostile, failed_preconditions_give_412)
{
    http_client client{port_};
    EXPECT_EQ(client.get("/pub/page.txt", "If-Match: \"nope\"\r\n").status, 412U);
    EXPECT_EQ(client.get("/pub/page.txt", "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
                  .status,
              412U);
    auto const etag = client.get("/pub/page.txt").header("etag");
    EXPECT_EQ(client.get("/pub/page.txt", "If-Match: " + etag + "\r\n").status, 200U);
}

TEST_F(hostile, single_ranges_give_206)
{
    http_client client{port_};
    auto const head = client.get("/pub/page.txt", "Range: bytes=0-3\r\n");
    EXPECT_EQ(head.status, 206U);
    EXPECT_EQ(head.body, "0123");
    EXPECT_EQ(head.header("content-range"), "bytes 0-3/20");
    auto const tail = client.get("/pub/page.txt", "Range: bytes=-5\r\n");
    EXPECT_EQ(tail.body, "fghij");
    auto const from = client.get("/pub/page.txt", "Range: bytes=15-\r\n");
    EXPECT_EQ(from.body, "fghij");
    auto const big = client.get("/pub/big.bin", "Range: bytes=100000-200000\r\n");
    EXPECT_EQ(big.status, 206U);
    EXPECT_EQ(big.body, big_.substr(100000, 100001)) << "a large range goes out with sendfile";
}

TEST_F(hostile, unsatisfiable_multiple_and_invalid_ranges)
{
    http_client client{port_};
    auto const beyond = client.get("/pub/page.txt", "Range: bytes=50-60\r\n");
    EXPECT_EQ(beyond.status, 416U);
    EXPECT_EQ(beyond.header("content-range"), "bytes */20");
    auto const several = client.get("/pub/page.txt", "Range: bytes=0-1,4-5\r\n");
    EXPECT_EQ(several.status, 200U);
    EXPECT_EQ(several.body, "0123456789abcdefghij");
    auto const invalid = client.get("/pub/page.txt", "Range: bytes=9-1\r\n");
    EXPECT_EQ(invalid.status, 200U);
    auto const stale = client.get("/pub/page.txt", "Range: bytes=0-1\r\nIf-Range: \"old\"\r\n");
    EXPECT_EQ(stale.status, 200U);
    auto const etag = client.get("/pub/page.txt").header("etag");
    auto const fresh =
        client.get("/pub/page.txt", "Range: bytes=0-1\r\nIf-Range: " + etag + "\r\n");
    EXPECT_EQ(fresh.status, 206U);
}

TEST_F(hostile, precompressed_siblings_follow_accept_encoding)
{
    http_client client{port_};
    auto const br = client.get("/pub/style.css", "Accept-Encoding: gzip, br\r\n");
    EXPECT_EQ(br.body, "BROTLI");
    EXPECT_EQ(br.header("content-encoding"), "br");
    EXPECT_EQ(br.header("vary"), "Accept-Encoding");
    EXPECT_EQ(br.header("content-type"), "text/css; charset=utf-8");
    auto const gz = client.get("/pub/style.css", "Accept-Encoding: gzip, br;q=0\r\n");
    EXPECT_EQ(gz.body, "GZIPPED");
    EXPECT_EQ(gz.header("content-encoding"), "gzip");
    auto const plain = client.get("/pub/style.css");
    EXPECT_EQ(plain.body, "body { color: red }\n");
    EXPECT_FALSE(plain.has("content-encoding"));
    EXPECT_NE(br.header("etag"), gz.header("etag"));
    EXPECT_NE(gz.header("etag"), plain.header("etag"));
}

TEST_F(hostile, responses_larger_than_the_socket_takes_at_once_arrive_whole)
{
    // Cached files, pipelined faster than they are read: the socket fills, and each response
    // has to finish asynchronously after a partial write, in order and byte for byte.
    std::string sixty(60 * 1024, 'y');
    for (std::size_t i = 0; i < sixty.size(); i += 100)
        sixty[i] = static_cast<char>('A' + (i / 100) % 26);
    dir_.write("pub/sixty.bin", sixty);
    http_client client{port_, "127.0.0.1", 10s};
    // 400 requests: 12 MB of responses, more than loopback's socket buffers hold.
    constexpr int requests = 400;
    std::string burst;
    for (int i = 0; i < requests; ++i)
        burst += i % 2 == 0 ? request("GET", "/pub/sixty.bin") : request("GET", "/pub/page.txt");
    client.send(burst);
    for (int i = 0; i < requests; ++i) {
        auto const response = client.read_response();
        ASSERT_EQ(response.status, 200U) << "response " << i;
        EXPECT_EQ(response.body, i % 2 == 0 ? sixty : "0123456789abcdefghij") << "response " << i;
    }
}

TEST_F(hostile, a_file_changed_in_place_is_served_changed_at_once)
{
    http_client client{port_};
    EXPECT_EQ(client.get("/pub/page.txt").body, "0123456789abcdefghij");
    dir_.write("pub/page.txt", "ABCDEFGHIJ0123456789"); // same size: only the mtime differs
    EXPECT_EQ(client.get("/pub/page.txt").body, "ABCDEFGHIJ0123456789");
}

TEST_F(hostile, a_file_swapped_for_an_escaping_symlink_is_refused_within_a_second)
{
    http_client client{port_};
    EXPECT_EQ(client.get("/pub/page.txt").body, "0123456789abcdefghij");
    dir_.write("secret.txt", "SECRET");
    fs::remove(dir_.path() / "pub" / "page.txt");
    fs::create_symlink(dir_.path() / "secret.txt", dir_.path() / "pub" / "page.txt");
    auto const swapped_at = std::chrono::steady_clock::now();
    // The cached copy (read through the safe open) may be served until the name is looked up
    // again; the file outside the directory never is.
    for (;;) {
        auto const response = client.get("/pub/page.txt");
        EXPECT_EQ(response.body.find("SECRET"), std::string::npos);
        if (response.status == 403U)
            break;
        EXPECT_EQ(response.body, "0123456789abcdefghij");
        ASSERT_LT(std::chrono::steady_clock::now() - swapped_at, 1500ms) << "still cached";
        std::this_thread::sleep_for(50ms);
    }
}

TEST_F(hostile, options_and_methods)
{
    http_client client{port_};
    client.send(request("OPTIONS", "/pub/page.txt"));
    auto const options = client.read_response();
    EXPECT_EQ(options.status, 204U);
    EXPECT_EQ(options.header("allow"), "GET, HEAD, OPTIONS");
    client.send(request("OPTIONS", "*"));
    EXPECT_EQ(client.read_response().header("allow"), "GET, HEAD, POST, OPTIONS");
    client.send(request("PUT", "/pub/page.txt", "Content-Length: 0\r\n"));
    auto const put = client.read_response();
    EXPECT_EQ(put.status, 405U);
    EXPECT_EQ(put.header("allow"), "GET, HEAD, OPTIONS");
    client.send(request("FROBNICATE", "/"));
    EXPECT_EQ(client.read_response().status, 501U);
}

TEST_F(hostile, framing_attacks_get_one_400_and_close)
{
    std::string const tail = request("GET", "/nope");
    for (std::string const& attack : {
             "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
             "0\r\n\r\n" +
                 tail,
             "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello" +
                 tail,
             "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!" +
                 tail,
             "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n" + tail,
             "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n" + tail,
             "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + tail,
             "GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n" + tail,
             "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n" + tail,
             "GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\n\r\n" + tail,
             std::string{"GET / HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n", 38} + tail,
             "GET / HTTP/1.1\nHost: x\n\n" + tail,
             "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n" + tail,
             "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n" + tail,
             "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + tail,
         })
    {
        auto const raw = exchange(attack);
        EXPECT_EQ(raw.rfind("HTTP/1.1 400 ", 0), 0U) << attack << "\n->\n" << raw;
        EXPECT_EQ(responses_in(raw), 1) << "bytes after the attack were answered:\n" << attack;
        EXPECT_NE(raw.find("Connection: close"), std::string::npos);
    }
}

TEST_F(hostile, chunked_body_is_never_answered_as_a_request)
{
    http_client client{port_};
    std::string const smuggled = request("GET", "/nope");
    char size_hex[16];
    std::snprintf(size_hex, sizeof size_hex, "%zx", smuggled.size());
    client.send(request("GET", "/", "Transfer-Encoding: chunked\r\n") + size_hex + "\r\n" +
                smuggled + "\r\n0\r\n\r\n" + request("GET", "/"));
    EXPECT_EQ(client.read_response().status, 200U);
    EXPECT_EQ(client.read_response().status, 200U)
        << "the chunk's content was answered as a request";
}

TEST_F(hostile, long_target_gets_414_and_many_fields_431)
{
    EXPECT_EQ(exchange(request("GET", "/" + std::string(9000, 'a'))).rfind("HTTP/1.1 414", 0), 0U);
    std::string fields;
    for (int i = 0; i < 101; ++i)
        fields += "X-F" + std::to_string(i) + ": v\r\n";
    EXPECT_EQ(exchange(request("GET", "/", fields)).rfind("HTTP/1.1 431", 0), 0U);
}

class hostile_timeouts : public hostile
{
  protected:
    void SetUp() override
    {
        start("header_timeout = \"1s\"\nkeepalive_timeout = \"1s\"\nsend_timeout = \"1s\"\n"
              "body_timeout = \"1s\"\n");
    }
};

TEST_F(hostile_timeouts, slowloris_is_cut_off_while_others_are_served)
{
    http_client slow{port_, "127.0.0.1", 5s};
    auto const started = std::chrono::steady_clock::now();
    std::string const head = request("GET", "/");
    bool cut = false;
    for (std::size_t i = 0; i < head.size() && !cut; ++i) {
        try {
            slow.send(head.substr(i, 1));
        } catch (std::exception const&) {
            cut = true;
            break;
        }
        // Meanwhile a normal client is served at once.
        http_client normal{port_, "127.0.0.1", 2s};
        EXPECT_EQ(normal.get("/").status, 200U);
        std::this_thread::sleep_for(250ms); // the attacker's pace: one byte every 250 ms
        if (std::chrono::steady_clock::now() - started > 3s)
            break;
    }
    EXPECT_TRUE(cut || slow.peer_closed()) << "a byte-at-a-time client was never cut off";
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST_F(hostile_timeouts, idle_keep_alive_is_closed)
{
    http_client client{port_, "127.0.0.1", 5s};
    EXPECT_EQ(client.get("/").status, 200U);
    auto const started = std::chrono::steady_clock::now();
    EXPECT_TRUE(client.peer_closed());
    auto const waited = std::chrono::steady_clock::now() - started;
    EXPECT_GE(waited, 900ms);
    EXPECT_LT(waited, 2500ms);
}

TEST_F(hostile_timeouts, a_client_that_never_reads_is_cut_off)
{
    http_client reader{port_, "127.0.0.1", 5s};
    // A small receive buffer so the server's writes stall soon.
    int const small = 4096;
    ::setsockopt(reader.socket().native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    std::string burst;
    for (int i = 0; i < 200; ++i)
        burst += request("GET", "/pub/big.bin");
    reader.send(burst.substr(0, 64 * 1024)); // as much as the server accepts before stalling
    auto const started = std::chrono::steady_clock::now();
    // Meanwhile a normal client is served.
    http_client normal{port_, "127.0.0.1", 2s};
    EXPECT_EQ(normal.get("/").status, 200U);
    // The server closes the stalled connection once a write has made no progress for
    // send_timeout (1 s). Wait for that hang-up without reading, which would unstall it.
    pollfd p{reader.socket().native_handle(), POLLRDHUP, 0};
    bool hung_up = false;
    while (!hung_up && std::chrono::steady_clock::now() - started < 10s) {
        p.revents = 0;
        ::poll(&p, 1, 100);
        hung_up = (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
    }
    EXPECT_TRUE(hung_up) << "a client that never reads was never cut off";
    EXPECT_GE(std::chrono::steady_clock::now() - started, 900ms);
}

TEST_F(hostile_timeouts, a_body_that_stops_arriving_is_cut_off)
{
    http_client client{port_, "127.0.0.1", 5s};
    client.send(request("GET", "/", "Content-Length: 10\r\n") + "ab");
    auto const started = std::chrono::steady_clock::now();
    auto const raw = client.read_until_close();
    auto const waited = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(responses_in(raw), 0) << "a request whose body never came was answered: " << raw;
    EXPECT_GE(waited, 900ms);
    EXPECT_LT(waited, 3s);
}

class hostile_request_cap : public hostile
{
  protected:
    void SetUp() override { start("max_requests_per_connection = 2\n"); }
};

TEST_F(hostile_request_cap, connection_closes_after_max_requests)
{
    http_client client{port_};
    auto const first = client.get("/");
    EXPECT_FALSE(first.has("connection"));
    auto const second = client.get("/");
    EXPECT_EQ(second.status, 200U);
    EXPECT_EQ(second.header("connection"), "close");
    EXPECT_TRUE(client.peer_closed());
}

class hostile_limits : public hostile
{
  protected:
    void SetUp() override { start("max_connections = 5\n"); }
};

TEST_F(hostile_limits, connections_beyond_the_limit_wait_for_a_slot)
{
    std::vector<std::unique_ptr<http_client>> held;
    for (int i = 0; i < 5; ++i) {
        held.push_back(std::make_unique<http_client>(port_));
        EXPECT_EQ(held.back()->get("/").status, 200U);
    }
    http_client waiting{port_, "127.0.0.1", 1s};
    waiting.send(request("GET", "/"));
    EXPECT_THROW(static_cast<void>(waiting.read_response()), std::exception)
        << "a sixth connection was served past max_connections = 5";
    held.pop_back(); // one slot frees, and the waiting client gets it
    EXPECT_EQ(waiting.read_response().status, 200U);
}

TEST(descriptor_exhaustion, accept_backs_off_instead_of_spinning)
{
    temp_dir dir;
    auto const config = dir.write("test.toml", test_config());
    launch how;
    how.wrapper = {"prlimit", "--nofile=32:32", "--"};
    how.args = {"--config", config.string()};
    daemon_process daemon{how};
    auto const port = daemon.wait_for_port();
    std::vector<std::unique_ptr<http_client>> clients;
    for (int i = 0; i < 60; ++i)
        clients.push_back(std::make_unique<http_client>(port, "127.0.0.1", 2s));
    ASSERT_TRUE(daemon.wait_for_output("accept: "));
    // CPU time over one second while descriptors stay exhausted: a spinning accept loop would
    // use the whole second.
    auto cpu_ticks = [&] {
        std::ifstream stat{"/proc/" + std::to_string(daemon.pid()) + "/stat"};
        std::string content((std::istreambuf_iterator<char>(stat)), {});
        auto const after_name = content.rfind(')');
        std::istringstream fields{content.substr(after_name + 2)};
        std::vector<std::string> parts{std::istream_iterator<std::string>{fields}, {}};
        return std::stol(parts.at(11)) + std::stol(parts.at(12)); // utime + stime
    };
    auto const before = cpu_ticks();
    std::this_thread::sleep_for(1s); // measuring an interval: there is no condition to wait for
    auto const used = cpu_ticks() - before;
    EXPECT_LT(used, ::sysconf(_SC_CLK_TCK) / 5) << "accept spun on EMFILE";
    clients.clear();
    http_client after{port, "127.0.0.1", 5s};
    EXPECT_EQ(after.get("/").status, 200U) << "the daemon did not recover";
    daemon.signal(SIGTERM);
    EXPECT_EQ(daemon.wait_exit(), 0);
}

} // namespace
} // namespace hello_async::testing
