// The CPU floor of a keep-alive server on this machine: one thread, edge-triggered epoll, and per
// request only the system calls no server can avoid: the read of the request and the write of
// the response. A server that shows an edited file at once needs no stat per request either: it
// can learn of edits from inotify, as hello-async's file cache does, which costs nothing while
// no file changes. Every request gets the same 200 with the file's bytes, read once at start;
// requests are not parsed, only counted by the blank line that ends them, and those that arrive
// together are answered by one write. The benchmark runs it beside the servers, so that a CPU
// target can be set against what the kernel alone costs here. A write is not retried: ten
// pipelined responses of a small file are far below what a loopback socket buffers.
// usage: syscall_floor PORT FILE
#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <string_view>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <vector>

#include "read_whole_file.hpp"

namespace {

int listen_on(int port)
{
    int const fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int const on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr const*>(&address), sizeof address) != 0 ||
        ::listen(fd, 4096) != 0)
    {
        std::perror("syscall_floor: bind");
        std::exit(1);
    }
    return fd;
}

/// Requests complete in `data`, counted by the "\r\n\r\n" that ends each head. `matched` carries
/// how much of that ending the previous read ended with, so that one split across reads counts.
std::size_t count_requests(std::string_view data, unsigned& matched)
{
    static constexpr std::string_view end_of_head{"\r\n\r\n"};
    std::size_t count = 0;
    for (char const c : data) {
        if (c == end_of_head[matched]) {
            if (++matched == end_of_head.size()) {
                ++count;
                matched = 0;
            }
        } else {
            matched = c == '\r' ? 1 : 0;
        }
    }
    return count;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: syscall_floor PORT FILE\n");
        return 2;
    }
    char const* const path = argv[2];
    std::string const body = read_whole_file(path);
    std::string const head = "HTTP/1.1 200 OK\r\nServer: syscall_floor\r\n"
                             "Content-Type: text/html; charset=utf-8\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n";
    std::signal(SIGPIPE, SIG_IGN);

    int const listener = listen_on(std::atoi(argv[1]));
    int const poller = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event listening{};
    listening.events = EPOLLIN;
    listening.data.fd = listener;
    ::epoll_ctl(poller, EPOLL_CTL_ADD, listener, &listening);

    std::vector<unsigned> matched; // per descriptor
    std::vector<iovec> out;
    char input[16384];
    epoll_event ready[256];
    for (;;) {
        int const count = ::epoll_wait(poller, ready, 256, -1);
        for (int i = 0; i < count; ++i) {
            int const fd = ready[i].data.fd;
            if (fd == listener) {
                for (int client; (client = ::accept4(listener, nullptr, nullptr,
                                                     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;)
                {
                    int const on = 1;
                    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                    epoll_event event{};
                    event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
                    event.data.fd = client;
                    ::epoll_ctl(poller, EPOLL_CTL_ADD, client, &event);
                    if (matched.size() <= static_cast<std::size_t>(client))
                        matched.resize(static_cast<std::size_t>(client) + 1);
                    matched[static_cast<std::size_t>(client)] = 0;
                }
                continue;
            }
            // Edge-triggered: read until a read comes back short, as Asio's reactor does.
            for (;;) {
                ssize_t const got = ::recv(fd, input, sizeof input, 0);
                if (got <= 0) {
                    if (got == 0 || (errno != EAGAIN && errno != EINTR))
                        ::close(fd);
                    break;
                }
                auto const requests = count_requests({input, static_cast<std::size_t>(got)},
                                                     matched[static_cast<std::size_t>(fd)]);
                out.clear();
                for (std::size_t r = 0; r < requests; ++r) {
                    out.push_back({const_cast<char*>(head.data()), head.size()});
                    out.push_back({const_cast<char*>(body.data()), body.size()});
                }
                if (!out.empty()) {
                    msghdr message{};
                    message.msg_iov = out.data();
                    message.msg_iovlen = out.size();
                    ::sendmsg(fd, &message, MSG_NOSIGNAL);
                }
                if (static_cast<std::size_t>(got) < sizeof input)
                    break;
            }
        }
    }
}
