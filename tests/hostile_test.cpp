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
#include "support/site_under_test.hpp"

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

class hostile : public site_under_test
{
};

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

TEST_F(hostile, a_file_replaced_by_a_rename_is_served_new_at_once)
{
    http_client client{port_};
    EXPECT_EQ(client.get("/pub/page.txt").body, "0123456789abcdefghij");
    // How a site is usually deployed: the new file is written beside the old and renamed over it.
    dir_.write("pub/page.txt.new", "the new page");
    fs::rename(dir_.path() / "pub" / "page.txt.new", dir_.path() / "pub" / "page.txt");
    EXPECT_EQ(client.get("/pub/page.txt").body, "the new page");
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
        auto const [raw, closed] = exchange(attack);
        EXPECT_TRUE(closed) << "the connection stayed open after:\n" << attack;
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
    auto const long_target = exchange(request("GET", "/" + std::string(9000, 'a')));
    EXPECT_EQ(long_target.bytes.rfind("HTTP/1.1 414", 0), 0U);
    EXPECT_TRUE(long_target.closed);
    std::string fields;
    for (int i = 0; i < 101; ++i)
        fields += "X-F" + std::to_string(i) + ": v\r\n";
    auto const many_fields = exchange(request("GET", "/", fields));
    EXPECT_EQ(many_fields.bytes.rfind("HTTP/1.1 431", 0), 0U);
    EXPECT_TRUE(many_fields.closed);
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

/// Makes `reader` send `requests` copies of a request for a large file in one go, through a
/// small receive buffer so that the server's writes stall soon; it then never reads.
void stall(http_client& reader, int requests)
{
    int const small = 4096;
    ::setsockopt(reader.socket().native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    std::string burst;
    for (int i = 0; i < requests; ++i)
        burst += request("GET", "/pub/big.bin");
    reader.send(burst.substr(0, 64 * 1024)); // as much as the server accepts before stalling
}

/// Whether the server hangs up on `reader` within `limit`, watched without reading, which
/// would unstall it.
bool hung_up_within(http_client& reader, std::chrono::seconds limit)
{
    auto const started = std::chrono::steady_clock::now();
    pollfd p{reader.socket().native_handle(), POLLRDHUP, 0};
    while (std::chrono::steady_clock::now() - started < limit) {
        p.revents = 0;
        ::poll(&p, 1, 100);
        if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0)
            return true;
    }
    return false;
}

TEST_F(hostile_timeouts, a_client_that_never_reads_is_cut_off)
{
    http_client reader{port_, "127.0.0.1", 5s};
    stall(reader, 200);
    auto const started = std::chrono::steady_clock::now();
    // Meanwhile a normal client is served.
    http_client normal{port_, "127.0.0.1", 2s};
    EXPECT_EQ(normal.get("/").status, 200U);
    // The server closes the stalled connection once a write has made no progress for
    // send_timeout (1 s).
    EXPECT_TRUE(hung_up_within(reader, 10s)) << "a client that never reads was never cut off";
    EXPECT_GE(std::chrono::steady_clock::now() - started, 900ms);
}

TEST_F(hostile_timeouts, a_client_that_never_reads_is_cut_off_with_nothing_left_unread)
{
    // Few enough requests for the server to have read them all, and more response bytes than
    // the sockets hold: once the server gives up, a FIN would wait behind what the client does
    // not read. Only a reset reaches it.
    http_client reader{port_, "127.0.0.1", 5s};
    stall(reader, 20);
    auto const started = std::chrono::steady_clock::now();
    EXPECT_TRUE(hung_up_within(reader, 10s)) << "a client that never reads was never cut off";
    EXPECT_GE(std::chrono::steady_clock::now() - started, 900ms);
}

TEST_F(hostile_timeouts, a_body_that_stops_arriving_is_cut_off)
{
    http_client client{port_, "127.0.0.1", 5s};
    client.send(request("GET", "/", "Content-Length: 10\r\n") + "ab");
    auto const started = std::chrono::steady_clock::now();
    auto const [raw, closed] = client.read_until_close();
    auto const waited = std::chrono::steady_clock::now() - started;
    EXPECT_TRUE(closed) << "the connection was never cut off";
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

/// The daemon with `config` and only 32 descriptors: fewer than a test's clients.
launch with_32_descriptors(std::filesystem::path const& config)
{
    launch how;
    how.wrapper = {"prlimit", "--nofile=32:32", "--"};
    how.args = {"--config", config.string()};
    return how;
}

TEST(descriptor_exhaustion, accept_backs_off_instead_of_spinning)
{
    temp_dir dir;
    daemon_process daemon{with_32_descriptors(dir.write("test.toml", test_config()))};
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

TEST(descriptor_exhaustion, a_file_that_cannot_be_opened_for_want_of_descriptors_gets_503)
{
    temp_dir dir;
    dir.write("big.bin", std::string(200 * 1024, 'b')); // too large for the file cache
    auto const config =
        dir.write("test.toml", test_config("[[route]]\npath = \"/big\"\nfile = \"" +
                                           (dir.path() / "big.bin").string() + "\"\n"));
    daemon_process daemon{with_32_descriptors(config)};
    auto const port = daemon.wait_for_port();
    // More connections than descriptors: the accepted ones hold every descriptor the daemon
    // has, so opening the file fails for some of them.
    std::vector<std::unique_ptr<http_client>> clients;
    for (int i = 0; i < 40; ++i) {
        clients.push_back(std::make_unique<http_client>(port, "127.0.0.1", 1s));
        clients.back()->send(request("HEAD", "/big"));
    }
    ASSERT_TRUE(daemon.wait_for_output("accept: "));
    int unavailable = 0;
    for (auto& client : clients) {
        http_response r;
        try {
            r = client->read_response(true);
        } catch (std::runtime_error const&) {
            break; // still in the backlog: the rest are too
        }
        EXPECT_TRUE(r.status == 200U || r.status == 503U) << r.status;
        if (r.status == 503U) {
            ++unavailable;
            EXPECT_EQ(r.header("retry-after"), "1");
        }
    }
    EXPECT_GT(unavailable, 0) << "no request ran into the descriptor limit";
    daemon.signal(SIGTERM);
    EXPECT_EQ(daemon.wait_exit(), 0);
}

} // namespace
} // namespace hello_async::testing
