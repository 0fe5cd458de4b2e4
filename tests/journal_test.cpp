// Request logging into a real systemd-journald, run standalone in a private mount namespace
// (tmpfs over its directories) so that nothing reaches the host's journal, and in a private
// network namespace (see SetUp).
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "support/daemon_process.hpp"
#include "support/http_client.hpp"
#include "support/notify_socket.hpp"

namespace hello_async::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

/// Runs a shell command; returns its standard output.
std::string capture(std::string const& command)
{
    std::unique_ptr<FILE, int (*)(FILE*)> pipe{::popen(command.c_str(), "r"), ::pclose};
    std::string out;
    std::array<char, 4096> buf{};
    while (pipe && std::fgets(buf.data(), buf.size(), pipe.get()) != nullptr)
        out += buf.data();
    return out;
}

/// A new network namespace starts with its loopback down: the daemon listens there.
void bring_up_loopback()
{
    int const fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ifreq request{};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    bool up = ::ioctl(fd, SIOCGIFFLAGS, &request) == 0;
    if (up) {
        request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
        up = ::ioctl(fd, SIOCSIFFLAGS, &request) == 0;
    }
    int const error = errno;
    ::close(fd);
    ASSERT_TRUE(up) << "loopback: " << std::strerror(error);
}

class journal : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        if (::geteuid() != 0)
            GTEST_SKIP() << "*** SKIPPED LOUDLY: the journal tests need root (mount and network "
                            "namespaces, journald); they run in CI ***";
        // A network namespace of its own too: journald's socket queue is the namespace's
        // net.unix.max_dgram_qlen, the kernel's 10 in a new one, while a host booted with
        // systemd has 512 (its sysctl.d). The tests that stop journald count on filling that
        // queue with their requests' entries, whatever the host set.
        ASSERT_EQ(::unshare(CLONE_NEWNS | CLONE_NEWNET), 0) << std::strerror(errno);
        ASSERT_NO_FATAL_FAILURE(bring_up_loopback());
        ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
        for (auto const* dir : {"/run/systemd", "/run/log", "/var/log/journal"}) {
            fs::create_directories(dir);
            ASSERT_EQ(::mount("tmpfs", dir, "tmpfs", 0, "mode=0755"), 0) << dir;
        }
        fs::create_directories("/run/systemd/journal");
        // As the shipped namespace settings: no rate limit, so that what arrives is what the
        // daemon sent.
        fs::create_directories("/run/systemd/journald.conf.d");
        dir_.write("unlimited.conf", "[Journal]\nRateLimitIntervalSec=0\n");
        fs::copy_file(dir_.path() / "unlimited.conf",
                      "/run/systemd/journald.conf.d/unlimited.conf");
        auto const test_process = ::getpid();
        journald_ = ::fork();
        if (journald_ == 0) {
            // As with the daemon (daemon_process): a test ended by ctest's timeout must not
            // leave its journald running.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != test_process)
                ::_exit(127);
            ::execl("/lib/systemd/systemd-journald", "systemd-journald", nullptr);
            ::_exit(127);
        }
        auto const deadline = std::chrono::steady_clock::now() + 10s;
        while (!fs::exists("/run/systemd/journal/socket") &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(10ms); // journald makes the socket itself: poll for it
        ASSERT_TRUE(fs::exists("/run/systemd/journal/socket")) << "journald did not start";
    }

    void TearDown() override
    {
        if (HasFailure() && daemon_)
            std::cerr << "daemon output:\n" << daemon_->output();
        daemon_.reset();
        if (journald_ > 0) {
            ::kill(journald_, SIGCONT);
            ::kill(journald_, SIGTERM);
            ::waitpid(journald_, nullptr, 0);
        }
    }

    void start(std::string const& extra_server = {}, std::map<std::string, std::string> env = {})
    {
        auto config = test_config();
        config.replace(config.find("threads = 2\n"), 12, "threads = 2\n" + extra_server);
        auto const path = dir_.write("test.toml", config);
        launch how;
        how.args = {"--config", path.string(), "--log-target=journal"};
        how.env = std::move(env);
        daemon_ = std::make_unique<daemon_process>(how);
        // Messages go to the journal too, so the port comes from there.
        auto const deadline = std::chrono::steady_clock::now() + 10s;
        while (port_ == 0 && std::chrono::steady_clock::now() < deadline) {
            for (auto const& e : entries("-t hello-async")) {
                auto const message = field(e, "MESSAGE");
                auto const at = message.find("listening on 127.0.0.1:");
                if (at != std::string::npos)
                    port_ = static_cast<unsigned short>(std::stoi(message.substr(at + 23)));
            }
            if (port_ == 0)
                std::this_thread::sleep_for(20ms);
        }
        ASSERT_NE(port_, 0) << "no 'listening on' entry in the journal";
    }

    /// The journal's entries matching `filter`, as JSON objects.
    static std::vector<json::object> entries(std::string const& filter)
    {
        std::vector<json::object> out;
        auto const text = capture("journalctl --no-pager -o json " + filter + " 2>/dev/null");
        std::size_t pos = 0;
        while (pos < text.size()) {
            auto const end = std::min(text.find('\n', pos), text.size());
            auto const line = text.substr(pos, end - pos);
            pos = end + 1;
            if (line.empty() || line.front() != '{')
                continue;
            out.push_back(json::parse(line).as_object());
        }
        return out;
    }

    static std::string field(json::object const& entry, char const* name)
    {
        auto const* value = entry.if_contains(name);
        return (value != nullptr && value->is_string()) ? std::string{value->as_string()} : "";
    }

    /// Request entries (those with HTTP_STATUS), once at least `count` are there.
    std::vector<json::object> request_entries(std::size_t count, std::string const& filter = {})
    {
        std::vector<json::object> found;
        auto const deadline = std::chrono::steady_clock::now() + 10s;
        for (;;) {
            found.clear();
            for (auto& e : entries("-t hello-async " + filter)) {
                if (e.contains("HTTP_STATUS"))
                    found.push_back(std::move(e));
            }
            if (found.size() >= count || std::chrono::steady_clock::now() >= deadline)
                return found;
            std::this_thread::sleep_for(20ms); // journald writes asynchronously
        }
    }

    temp_dir dir_;
    pid_t journald_{-1};
    std::unique_ptr<daemon_process> daemon_;
    unsigned short port_{0};
};

TEST_F(journal, one_entry_per_request_with_fields)
{
    start();
    http_client client{port_};
    EXPECT_EQ(client.get("/").status, 200U);
    EXPECT_EQ(client.get("/nope?x=1").status, 404U);
    client.send(request("HEAD", "/"));
    EXPECT_EQ(client.read_response(true).status, 200U);

    auto const logged = request_entries(3);
    ASSERT_EQ(logged.size(), 3U);
    EXPECT_EQ(field(logged[0], "MESSAGE").rfind("GET / HTTP/1.1 200 ", 0), 0U);
    EXPECT_EQ(field(logged[1], "MESSAGE").rfind("GET /nope?x=1 HTTP/1.1 404 ", 0), 0U);
    EXPECT_EQ(field(logged[2], "MESSAGE").rfind("HEAD / HTTP/1.1 200 ", 0), 0U);

    auto const& nope = logged[1];
    EXPECT_EQ(field(nope, "SYSLOG_IDENTIFIER"), "hello-async");
    EXPECT_EQ(field(nope, "HTTP_METHOD"), "GET");
    EXPECT_EQ(field(nope, "HTTP_TARGET"), "/nope?x=1");
    EXPECT_EQ(field(nope, "HTTP_VERSION"), "1.1");
    EXPECT_EQ(field(nope, "HTTP_STATUS"), "404");
    EXPECT_EQ(field(nope, "PRIORITY"), "5") << "4xx is notice";
    EXPECT_EQ(field(logged[0], "PRIORITY"), "6") << "2xx is info";
    EXPECT_GT(std::stoul(field(nope, "HTTP_BYTES")), read_file(source_www() / "404.html").size());
    EXPECT_FALSE(field(nope, "DURATION_USEC").empty());
    EXPECT_NO_THROW(static_cast<void>(std::stoul(field(nope, "DURATION_USEC"))));
    EXPECT_EQ(field(nope, "REMOTE_ADDR").rfind("127.0.0.1:", 0), 0U);

    auto const only_404 = request_entries(1, "HTTP_STATUS=404");
    ASSERT_EQ(only_404.size(), 1U);
    EXPECT_EQ(field(only_404[0], "HTTP_TARGET"), "/nope?x=1");
}

TEST_F(journal, a_burst_of_requests_lands_as_as_many_entries_in_order)
{
    start();
    // Pipelined, so that many entries share each datagram to journald.
    constexpr std::size_t total = 500;
    std::string burst;
    for (std::size_t i = 0; i < total; ++i)
        burst += request("GET", "/?n=" + std::to_string(i));
    http_client client{port_};
    client.send(burst);
    for (std::size_t i = 0; i < total; ++i)
        ASSERT_EQ(client.read_response().status, 200U) << "response " << i;

    auto const logged = request_entries(total);
    ASSERT_EQ(logged.size(), total);
    for (std::size_t i = 0; i < total; ++i) {
        auto const target = "/?n=" + std::to_string(i);
        ASSERT_EQ(field(logged[i], "HTTP_TARGET"), target) << "entry " << i;
        ASSERT_EQ(field(logged[i], "MESSAGE").rfind("GET " + target + " HTTP/1.1 200 ", 0), 0U);
        ASSERT_EQ(field(logged[i], "HTTP_STATUS"), "200");
    }
}

TEST_F(journal, control_bytes_in_a_request_line_are_escaped)
{
    start();
    http_client client{port_};
    client.send("GET /a\x01\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(client.read_until_close().closed);
    auto const logged = request_entries(1);
    ASSERT_EQ(logged.size(), 1U);
    auto const message = field(logged[0], "MESSAGE");
    EXPECT_NE(message.find("GET /a\\x01\\x1B[31m HTTP/1.1"), std::string::npos) << message;
    EXPECT_EQ(message.find('\x01'), std::string::npos);
    EXPECT_EQ(message.find('\x1b'), std::string::npos);
    EXPECT_EQ(field(logged[0], "HTTP_STATUS"), "400");
}

TEST_F(journal, access_log_can_be_switched_off)
{
    start("access_log = false\n");
    http_client client{port_};
    EXPECT_EQ(client.get("/").status, 200U);
    EXPECT_EQ(client.get("/nope").status, 404U);
    // The daemon's own messages still arrive; a message after the requests proves the queue
    // was written past the point where request lines would have been.
    daemon_->signal(SIGTERM);
    ASSERT_EQ(daemon_->wait_exit(), 0);
    std::vector<json::object> all;
    auto has_stop_message = [&all] {
        return std::any_of(all.begin(), all.end(), [](auto const& e) {
            return field(e, "MESSAGE").starts_with("stopped after 2 requests");
        });
    };
    auto const deadline = std::chrono::steady_clock::now() + 10s;
    for (all = entries("-t hello-async");
         !has_stop_message() && std::chrono::steady_clock::now() < deadline;
         all = entries("-t hello-async"))
        std::this_thread::sleep_for(20ms); // journald stores asynchronously
    ASSERT_TRUE(has_stop_message());
    for (auto const& e : all)
        EXPECT_FALSE(e.contains("HTTP_STATUS")) << field(e, "MESSAGE");
}

TEST_F(journal, a_stopped_journald_never_stalls_requests)
{
    notify_socket notify{dir_.path() / "notify"};
    start({}, {{"NOTIFY_SOCKET", notify.path()}});
    ASSERT_FALSE(notify.wait_for("READY=1").empty());
    ::kill(journald_, SIGSTOP);
    // Far more lines than the queue and the journal socket's buffer hold together.
    constexpr int total = 20000;
    constexpr int batch = 100;
    constexpr int per_connection = 1000; // max_requests_per_connection
    std::string burst;
    for (int i = 0; i < batch; ++i)
        burst += request("GET", "/");
    int answered = 0;
    for (int connection = 0; connection < total / per_connection; ++connection) {
        http_client client{port_};
        for (int sent = 0; sent < per_connection; sent += batch) {
            client.send(burst);
            for (int i = 0; i < batch; ++i)
                answered += client.read_response().status == 200U ? 1 : 0;
        }
    }
    EXPECT_EQ(answered, total);
    // STATUS is refreshed every few seconds with the count of dropped entries.
    auto const status = notify.wait_for("log entries dropped", 15s);
    EXPECT_FALSE(status.empty());
    ::kill(journald_, SIGCONT);
    // The log itself says so too, once per 10 s with drops, with the count as a field.
    std::vector<json::object> reports;
    auto const deadline = std::chrono::steady_clock::now() + 20s;
    while (reports.empty() && std::chrono::steady_clock::now() < deadline) {
        for (auto& e : entries("-t hello-async PRIORITY=4")) {
            if (e.contains("DROPPED_ENTRIES"))
                reports.push_back(std::move(e));
        }
        if (reports.empty())
            std::this_thread::sleep_for(100ms); // journald stores asynchronously
    }
    ASSERT_FALSE(reports.empty()) << "no DROPPED_ENTRIES entry";
    auto const message = field(reports.front(), "MESSAGE");
    EXPECT_NE(message.find(field(reports.front(), "DROPPED_ENTRIES") +
                           " request entries dropped in the last 10 s (journald not keeping up)"),
              std::string::npos)
        << message;
    EXPECT_GT(std::stoul(field(reports.front(), "DROPPED_ENTRIES")), 0U);
}

TEST_F(journal, overflow_wait_holds_requests_until_journald_takes_every_entry)
{
    notify_socket notify{dir_.path() / "notify"};
    start("access_log_overflow = \"wait\"\n",
          {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "400000"}});
    ASSERT_FALSE(notify.wait_for("READY=1").empty());
    ::kill(journald_, SIGSTOP);
    // As many as in the test above: far more than the queue and the socket's buffer hold.
    constexpr int total = 20000;
    constexpr int batch = 100;
    constexpr int per_connection = 1000;
    std::atomic<int> answered{0};
    std::thread load{[this, &answered] {
        std::string burst;
        for (int i = 0; i < batch; ++i)
            burst += request("GET", "/");
        for (int connection = 0; connection < total / per_connection; ++connection) {
            http_client client{port_, "127.0.0.1", 60s};
            for (int sent = 0; sent < per_connection; sent += batch) {
                client.send(burst);
                for (int i = 0; i < batch; ++i)
                    answered += client.read_response().status == 200U ? 1 : 0;
            }
        }
    }};
    // With journald stopped the answers stop: wait until a whole second brings none.
    int before = -1;
    auto const deadline = std::chrono::steady_clock::now() + 30s;
    while (answered.load() != before && std::chrono::steady_clock::now() < deadline) {
        before = answered.load();
        std::this_thread::sleep_for(1s); // the condition is the absence of progress over time
    }
    EXPECT_LT(answered.load(), total) << "requests went on while journald took nothing";
    // The I/O thread itself is not blocked: its watchdog heartbeat goes on.
    notify.drain();
    EXPECT_FALSE(notify.wait_for("WATCHDOG=1", 2s).empty());
    ::kill(journald_, SIGCONT);
    load.join();
    EXPECT_EQ(answered.load(), total);
    auto const logged = request_entries(total);
    EXPECT_EQ(logged.size(), static_cast<std::size_t>(total)) << "entries were lost";
    // A unix datagram socket holds 10 messages unread: read the pings of the last seconds, or
    // the daemon's next sd_notify (STOPPING=1) waits for room as systemd's socket would make it.
    notify.drain();
    daemon_->signal(SIGTERM);
    ASSERT_EQ(daemon_->wait_exit(), 0);
    std::string stop_message;
    auto const stop_deadline = std::chrono::steady_clock::now() + 10s;
    while (stop_message.empty() && std::chrono::steady_clock::now() < stop_deadline) {
        for (auto const& e : entries("-t hello-async")) {
            if (field(e, "MESSAGE").starts_with("stopped after"))
                stop_message = field(e, "MESSAGE");
        }
        if (stop_message.empty())
            std::this_thread::sleep_for(50ms); // journald stores asynchronously
    }
    EXPECT_NE(stop_message.find("; 0 log entries dropped"), std::string::npos) << stop_message;
}

} // namespace
} // namespace hello_async::testing
