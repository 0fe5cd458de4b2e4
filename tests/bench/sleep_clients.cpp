// Opens N connections to a loopback server, sends one request on each, and waits for every
// response; prints the time until the last response and the slowest request's latency.
// usage: sleep_clients PORT COUNT [PATH] [TIMEOUT_SECONDS]
#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <string>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

struct client
{
    int fd{-1};
    steady::time_point sent;
    double latency_ms{-1};
    std::string received;
};

bool response_complete(std::string const& data)
{
    auto const end = data.find("\r\n\r\n");
    if (end == std::string::npos)
        return false;
    auto const at = data.find("Content-Length: ");
    if (at == std::string::npos || at > end)
        return true;
    auto const length = std::strtoull(data.c_str() + at + 16, nullptr, 10);
    return data.size() >= end + 4 + length;
}

} // namespace

int main(int argc, char* argv[])
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s PORT COUNT [PATH] [TIMEOUT_SECONDS]\n", argv[0]);
        return 64;
    }
    auto const port = static_cast<unsigned short>(std::atoi(argv[1]));
    auto const count = static_cast<std::size_t>(std::atol(argv[2]));
    std::string const path = argc > 3 ? argv[3] : "/sleep";
    auto const timeout = std::chrono::seconds{argc > 4 ? std::atoi(argv[4]) : 30};

    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);

    std::string const request =
        "GET " + path + " HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    int const ep = ::epoll_create1(EPOLL_CLOEXEC);
    std::vector<client> clients(count);
    auto const started = steady::now();
    for (std::size_t i = 0; i < count; ++i) {
        auto& c = clients[i];
        c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c.fd < 0 || ::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            std::fprintf(stderr, "connection %zu: %s\n", i, std::strerror(errno));
            return 1;
        }
        c.sent = steady::now();
        if (::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(request.size()))
        {
            std::fprintf(stderr, "send %zu: %s\n", i, std::strerror(errno));
            return 1;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    }
    auto const all_sent = steady::now();

    std::size_t done = 0;
    std::size_t failed = 0;
    std::array<epoll_event, 256> events{};
    std::array<char, 4096> buf{};
    while (done < count && steady::now() - started < timeout) {
        int const n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
        for (int e = 0; e < n; ++e) {
            auto& c = clients[events[static_cast<std::size_t>(e)].data.u64];
            auto const got = ::recv(c.fd, buf.data(), buf.size(), 0);
            if (got > 0)
                c.received.append(buf.data(), static_cast<std::size_t>(got));
            bool const finished = got <= 0 || response_complete(c.received);
            if (!finished)
                continue;
            if (c.received.rfind("HTTP/1.1 200", 0) == 0 && response_complete(c.received))
                c.latency_ms =
                    std::chrono::duration<double, std::milli>(steady::now() - c.sent).count();
            else if (++failed == 1)
                std::fprintf(stderr, "first failure: %s\n",
                             c.received.empty()
                                 ? (got < 0 ? std::strerror(errno) : "closed without a response")
                                 : c.received.substr(0, 60).c_str());
            ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
            ::close(c.fd);
            ++done;
        }
    }
    auto const finished = steady::now();
    double slowest = 0;
    for (auto const& c : clients)
        slowest = std::max(slowest, c.latency_ms);
    std::printf(
        "connections=%zu ok=%zu failed=%zu unanswered=%zu connect_s=%.3f last_response_s=%.3f "
        "slowest_ms=%.1f\n",
        count, done - failed, failed, count - done,
        std::chrono::duration<double>(all_sent - started).count(),
        std::chrono::duration<double>(finished - started).count(), slowest);
    return (failed == 0 && done == count) ? 0 : 1;
}
