// The daemon against real systemd pieces: systemd-socket-activate, a NOTIFY_SOCKET, signals.
#include <gtest/gtest.h>

#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "support/daemon_process.hpp"
#include "support/http_client.hpp"
#include "support/notify_socket.hpp"

namespace hello_async::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// True when something accepts TCP connections on 127.0.0.1:port.
bool listening_on(unsigned short port)
{
    try {
        http_client probe{port};
        return true;
    } catch (std::exception const&) {
        return false;
    }
}

void expect_default_routes(unsigned short port, std::string const& host = "127.0.0.1")
{
    http_client client{port, host};
    auto const root = client.get("/");
    EXPECT_EQ(root.status, 200U);
    EXPECT_EQ(root.body, hello_page());
    auto const missing = client.get("/nope");
    EXPECT_EQ(missing.status, 404U);
    EXPECT_EQ(missing.body, not_found_page());
}

class socket_activation : public ::testing::Test
{
  protected:
    /// Runs the daemon under systemd-socket-activate with the given -l addresses.
    void activate(std::vector<std::string> const& addresses, std::string const& fdnames = "http")
    {
        unbound_port_ = free_port();
        // Its own listen address is a known free port, to prove it is not bound.
        auto const config = dir_.write(
            "test.toml", test_config(test_site{.sleep_delay = "1s", .port = unbound_port_}));
        launch how;
        how.wrapper = {"systemd-socket-activate", "--fdname=" + fdnames};
        for (auto const& a : addresses)
            how.wrapper.push_back("--listen=" + a);
        how.args = {"--config", config.string()};
        daemon_ = std::make_unique<daemon_process>(how);
        // systemd-socket-activate says so on stderr once every socket is bound.
        for (std::size_t i = 0; i < addresses.size(); ++i) {
            ASSERT_TRUE(daemon_->wait_for_output("Listening on " + addresses[i]))
                << daemon_->output();
        }
    }

    void TearDown() override
    {
        if (HasFailure() && daemon_)
            std::cerr << "output:\n" << daemon_->output();
    }

    temp_dir dir_;
    std::unique_ptr<daemon_process> daemon_;
    unsigned short unbound_port_{0};
};

TEST_F(socket_activation, ipv4_socket_serves_default_routes)
{
    auto const port = free_port();
    activate({"127.0.0.1:" + std::to_string(port)});
    expect_default_routes(port);
    http_client client{port};
    EXPECT_EQ(client.get("/").status, 200U);
    // The listener came from systemd: connections accepted on it still send without Nagle.
    EXPECT_EQ(server_side_no_delay(daemon_->pid(), client.socket().local_endpoint().port()),
              std::optional<bool>{true});
    auto const started = std::chrono::steady_clock::now();
    EXPECT_EQ(client.get("/sleep").body, hello_page());
    EXPECT_GE(std::chrono::steady_clock::now() - started, 1s);
    EXPECT_TRUE(daemon_->wait_for_output("listening on 127.0.0.1:" + std::to_string(port)));
    EXPECT_FALSE(listening_on(unbound_port_)) << "config listen bound despite activation";
}

TEST_F(socket_activation, ipv6_socket_serves_default_routes)
{
    auto const port = free_port(true);
    activate({"[::1]:" + std::to_string(port)});
    expect_default_routes(port, "::1");
    EXPECT_TRUE(daemon_->wait_for_output("listening on [::1]:" + std::to_string(port)));
}

TEST_F(socket_activation, two_sockets_at_once)
{
    auto const v4 = free_port();
    auto const v6 = free_port(true);
    activate({"127.0.0.1:" + std::to_string(v4), "[::1]:" + std::to_string(v6)}, "http:http");
    expect_default_routes(v4);
    expect_default_routes(v6, "::1");
    EXPECT_TRUE(daemon_->wait_for_output("listening on 127.0.0.1:" + std::to_string(v4) +
                                         " [::1]:" + std::to_string(v6)));
}

TEST_F(socket_activation, sockets_with_other_names_are_left_alone)
{
    auto const ours = free_port();
    auto const other = free_port();
    activate({"127.0.0.1:" + std::to_string(ours), "127.0.0.1:" + std::to_string(other)},
             "http:metrics");
    expect_default_routes(ours);
    EXPECT_TRUE(daemon_->wait_for_output("ignoring fd 4 (name \"metrics\")"));
    // systemd-socket-activate still holds the other socket; we must not be serving on it.
    http_client client{other, "127.0.0.1", 1s};
    client.send(request("GET", "/"));
    EXPECT_THROW(static_cast<void>(client.read_response()), std::exception);
}

/// A listening socket made by the test and handed over as fd 3, as systemd would.
class hand_activation : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof addr;
        ASSERT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), length), 0);
        ASSERT_EQ(::listen(listener_, 128), 0);
        ASSERT_EQ(::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &length), 0);
        port_ = ntohs(addr.sin_port);
        notify_ = std::make_unique<notify_socket>(dir_.path() / "notify");
    }

    void TearDown() override
    {
        if (HasFailure() && daemon_)
            std::cerr << "output:\n" << daemon_->output();
        ::close(listener_);
    }

    void start(std::string const& config_text, std::map<std::string, std::string> env = {})
    {
        config_ = dir_.write("test.toml", config_text);
        launch how;
        how.args = {"--config", config_.string()};
        how.env = std::move(env);
        how.env["LISTEN_FDS"] = "1";
        how.env["LISTEN_FDNAMES"] = "http";
        how.env["NOTIFY_SOCKET"] = notify_->path();
        how.fds = {{3, listener_}};
        how.set_listen_pid = true;
        daemon_ = std::make_unique<daemon_process>(how);
    }

    /// Connections that each had one exchange (so the daemon has accepted them) and then sent
    /// GET /sleep, whose answer is 5 s away.
    std::vector<std::unique_ptr<http_client>> sleeping_clients(int count)
    {
        std::vector<std::unique_ptr<http_client>> connections;
        for (int i = 0; i < count; ++i) {
            connections.push_back(std::make_unique<http_client>(port_));
            EXPECT_EQ(connections.back()->get("/").status, 200U);
            connections.back()->send(request("GET", "/sleep"));
        }
        return connections;
    }

    temp_dir dir_;
    int listener_{-1};
    unsigned short port_{0};
    fs::path config_;
    std::unique_ptr<notify_socket> notify_;
    std::unique_ptr<daemon_process> daemon_;
};

TEST_F(hand_activation, ready_and_status_arrive_before_the_first_response)
{
    start(test_config());
    // Connected before the daemon is ready: the request waits in the backlog.
    http_client client{port_};
    auto const r = client.get("/");
    EXPECT_EQ(r.body, hello_page());
    notify_->drain();
    auto const ready = notify_->index_of("READY=1");
    ASSERT_GE(ready, 0) << "no READY=1 by the time the first response arrived";
    auto const& message = notify_->messages()[static_cast<std::size_t>(ready)];
    EXPECT_NE(message.find("STATUS=listening on 127.0.0.1:" + std::to_string(port_)),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("2 routes"), std::string::npos) << message;
}

TEST_F(hand_activation, stopping_on_sigterm_and_exit_zero)
{
    start(test_config());
    ASSERT_FALSE(notify_->wait_for("READY=1").empty());
    daemon_->signal(SIGTERM);
    EXPECT_FALSE(notify_->wait_for("STOPPING=1").empty());
    EXPECT_EQ(daemon_->wait_exit(), 0);
}

TEST_F(hand_activation, idle_exit_leaves_the_socket_to_the_next_instance)
{
    // /sleep answers after 11 s: a connection open that long must hold the idle exit off.
    auto const config =
        test_config(test_site{.sleep_delay = "11s", .server = R"(idle_exit = "10s")"});
    start(config);
    ASSERT_FALSE(notify_->wait_for("READY=1").empty());
    {
        http_client client{port_, "127.0.0.1", 20s};
        auto const started = std::chrono::steady_clock::now();
        EXPECT_EQ(client.get("/sleep").status, 200U);
        EXPECT_GE(std::chrono::steady_clock::now() - started, 11s);
    }
    auto const closed = std::chrono::steady_clock::now();
    // STATUS= counts down while nothing is open.
    EXPECT_FALSE(notify_->wait_for("idle: exiting in", 7s).empty());
    EXPECT_FALSE(notify_->wait_for("STOPPING=1", 10s).empty()) << "no idle exit";
    EXPECT_GE(std::chrono::steady_clock::now() - closed, 9500ms);
    EXPECT_EQ(daemon_->wait_exit(5s), 0);
    EXPECT_TRUE(daemon_->wait_for_output("no connection for 10s: exiting"));

    // The socket stayed open (here the test holds it, as systemd would): a client that arrives
    // now waits in its backlog, and the next instance answers it.
    http_client waiting{port_};
    waiting.send(request("GET", "/"));
    start(config);
    auto const answer = waiting.read_response();
    EXPECT_EQ(answer.status, 200U);
    EXPECT_EQ(answer.body, hello_page());
}

TEST_F(hand_activation, reload_notifies_reloading_then_ready)
{
    start(test_config());
    ASSERT_FALSE(notify_->wait_for("READY=1").empty());
    notify_->drain();
    ASSERT_EQ(notify_->index_of("RELOADING=1"), -1) << "RELOADING=1 before any SIGHUP";
    daemon_->signal(SIGHUP);
    auto const reloading = notify_->wait_for("RELOADING=1");
    ASSERT_FALSE(reloading.empty());
    EXPECT_NE(reloading.find("MONOTONIC_USEC="), std::string::npos) << reloading;
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    auto const usec = std::stoull(reloading.substr(reloading.find("MONOTONIC_USEC=") + 15));
    auto const now_usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
                          static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
    EXPECT_LE(usec, now_usec);
    EXPECT_GT(usec + 10'000'000ULL, now_usec) << "MONOTONIC_USEC is not CLOCK_MONOTONIC";
    EXPECT_FALSE(notify_->wait_for("READY=1").empty()) << "no READY=1 after the reload";
    // The manager treats the reload as finished at the first READY=1 after RELOADING=1.
    auto const reloading_at = notify_->index_of("RELOADING=1");
    auto const ready_at = notify_->index_of("READY=1", static_cast<std::size_t>(reloading_at));
    EXPECT_GT(ready_at, reloading_at);
}

TEST_F(hand_activation, watchdog_pings_when_asked)
{
    start(test_config(), {{"WATCHDOG_USEC", "200000"}});
    ASSERT_FALSE(notify_->wait_for("READY=1").empty());
    // Every half interval (100 ms): three pings well within two seconds.
    for (int ping = 0; ping < 3; ++ping)
        EXPECT_FALSE(notify_->wait_for("WATCHDOG=1", 2s).empty()) << "ping " << ping;
}

/// Pings stop while one thread stalls (a test hook blocks it for 2 s), and start again after.
class watchdog_stall : public hand_activation, public ::testing::WithParamInterface<int>
{
};

TEST_P(watchdog_stall, pings_stop_while_a_thread_stalls)
{
    if (!HELLO_ASYNC_TEST_HOOKS)
        GTEST_SKIP() << "built without HELLO_ASYNC_TEST_HOOKS";
    auto const stall_signal = GetParam();
    // 200 ms: pings every 100 ms. Three I/O threads, so the stalled one (the last) is not 0.
    start(test_config(test_site{.threads = 3}), {{"WATCHDOG_USEC", "200000"}});
    ASSERT_FALSE(notify_->wait_for("READY=1").empty());
    ASSERT_FALSE(notify_->wait_for("WATCHDOG=1", 2s).empty());
    daemon_->signal(stall_signal);
    ASSERT_TRUE(daemon_->wait_for_output(stall_signal == SIGUSR1 ? "stalling I/O thread 2"
                                                                 : "stalling the control thread"));
    // Pings already on their way may still arrive; then a gap of 500 ms (five ping periods)
    // must come well before the stall's 2 s are over.
    auto const stalled = std::chrono::steady_clock::now();
    bool gap = false;
    while (!gap && std::chrono::steady_clock::now() - stalled < 1s)
        gap = notify_->wait_for("WATCHDOG=1", 500ms).empty();
    EXPECT_TRUE(gap) << "WATCHDOG=1 kept coming while a thread stalled";
    EXPECT_FALSE(notify_->wait_for("WATCHDOG=1", 3s).empty()) << "no ping after the stall";
    // The stalled thread serves again.
    http_client client{port_};
    EXPECT_EQ(client.get("/").status, 200U);
}

INSTANTIATE_TEST_SUITE_P(threads,
                         watchdog_stall,
                         ::testing::Values(SIGUSR1, SIGUSR2),
                         [](auto const& param_info) {
                             return param_info.param == SIGUSR1 ? "io_thread" : "control_thread";
                         });

TEST_F(hand_activation, no_watchdog_pings_unless_asked)
{
    start(test_config());
    ASSERT_FALSE(notify_->wait_for("READY=1").empty());
    EXPECT_TRUE(notify_->wait_for("WATCHDOG=1", 500ms).empty());
}

TEST_F(hand_activation, sigterm_lets_sleeping_requests_finish)
{
    start(test_config(test_site{.sleep_delay = "1s"}));
    ASSERT_FALSE(notify_->wait_for("READY=1").empty());
    constexpr int clients = 20;
    auto connections = sleeping_clients(clients);
    ASSERT_FALSE(HasFailure());
    daemon_->signal(SIGTERM);
    ASSERT_FALSE(notify_->wait_for("STOPPING=1").empty());
    int ok = 0;
    for (auto& c : connections) {
        auto const r = c->read_response();
        ok += (r.status == 200U && r.body == hello_page()) ? 1 : 0;
        EXPECT_EQ(r.header("connection"), "close");
    }
    EXPECT_EQ(ok, clients);
    EXPECT_EQ(daemon_->wait_exit(), 0);
}

TEST_F(hand_activation, sleeping_requests_are_cut_off_when_the_grace_period_ends)
{
    start(test_config({}, "shutdown_grace = \"1s\"\n"));
    ASSERT_FALSE(notify_->wait_for("READY=1").empty());
    auto connections = sleeping_clients(5);
    ASSERT_FALSE(HasFailure());
    auto const signalled = std::chrono::steady_clock::now();
    daemon_->signal(SIGTERM);
    // The delays (5 s) outlast the grace period (1 s): the daemon ends them and exits cleanly.
    EXPECT_EQ(daemon_->wait_exit(), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - signalled, 4s);
    for (auto& c : connections)
        EXPECT_TRUE(c->peer_closed());
    EXPECT_NE(daemon_->output().find("shutdown grace period over"), std::string::npos);
}

TEST_F(hand_activation, idle_keep_alive_connections_are_closed_on_sigterm)
{
    start(test_config());
    http_client idle{port_};
    ASSERT_EQ(idle.get("/").status, 200U);
    daemon_->signal(SIGTERM);
    EXPECT_TRUE(idle.peer_closed());
    EXPECT_EQ(daemon_->wait_exit(), 0);
}

TEST_F(hand_activation, reload_serves_the_changed_route_file)
{
    dir_.write("www/hello.html", "old page\n");
    dir_.write("www/new.html", "new page\n");
    dir_.write("www/404.html", "missing\n");
    auto const make = [&](std::string const& file) {
        return "[server]\nroot = \"www\"\nlog_target = \"stderr\"\n"
               "[[route]]\npath = \"/\"\nfile = \"" +
               file + "\"\n[errors]\n404 = \"404.html\"\n";
    };
    start(make("hello.html"));
    ASSERT_FALSE(notify_->wait_for("READY=1").empty());
    http_client client{port_};
    EXPECT_EQ(client.get("/").body, "old page\n");

    dir_.write("test.toml", make("new.html"));
    daemon_->signal(SIGHUP);
    ASSERT_FALSE(notify_->wait_for("RELOADING=1").empty());
    ASSERT_FALSE(notify_->wait_for("READY=1").empty());
    EXPECT_EQ(client.get("/").body, "new page\n") << "same keep-alive connection";
    http_client fresh{port_};
    EXPECT_EQ(fresh.get("/").body, "new page\n");
}

TEST_F(hand_activation, broken_reload_keeps_the_old_config_and_says_why)
{
    start(test_config());
    ASSERT_FALSE(notify_->wait_for("READY=1").empty());
    dir_.write("test.toml", test_config({}, "header_timeout = \"soon\"\n"));
    daemon_->signal(SIGHUP);
    ASSERT_FALSE(notify_->wait_for("RELOADING=1").empty());
    auto const ready = notify_->wait_for("READY=1");
    ASSERT_FALSE(ready.empty());
    EXPECT_NE(ready.find("reload failed"), std::string::npos) << ready;
    EXPECT_NE(ready.find(config_.string() + ":"), std::string::npos) << ready;
    EXPECT_NE(ready.find("limits.header_timeout"), std::string::npos) << ready;
    expect_default_routes(port_);
    EXPECT_TRUE(daemon_->wait_for_output("reload failed"));
}

TEST(socket_activation_errors, a_passed_fd_that_is_not_a_socket_is_refused)
{
    temp_dir dir;
    auto const config = dir.write("test.toml", test_config());
    int const file = ::open(config.c_str(), O_RDONLY | O_CLOEXEC);
    launch how;
    how.args = {"--config", config.string()};
    how.env = {{"LISTEN_FDS", "1"}, {"LISTEN_FDNAMES", "http"}};
    how.fds = {{3, file}};
    how.set_listen_pid = true;
    daemon_process proc{how};
    auto const status = proc.wait_exit();
    ::close(file);
    EXPECT_EQ(status, 1);
    EXPECT_NE(proc.output().find("fd 3 (name \"http\") is not a listening TCP socket"),
              std::string::npos)
        << proc.output();
}

} // namespace
} // namespace hello_async::testing
