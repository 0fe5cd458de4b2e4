// Opens N keep-alive connections to a loopback server, one request and its whole response on
// each (over TLS with --tls), then holds them all idle: prints "ready" and waits for SIGTERM or
// SIGINT, so that the caller can read the server's memory meanwhile.
// usage: idle_clients PORT COUNT PATH [--tls]
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

struct connection
{
    int fd{-1};
    SSL* ssl{nullptr};
};

bool send_all(connection const& c, std::string const& text)
{
    if (c.ssl != nullptr)
        return SSL_write(c.ssl, text.data(), static_cast<int>(text.size())) ==
               static_cast<int>(text.size());
    return ::send(c.fd, text.data(), text.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(text.size());
}

/// Reads one response whole: its head, then Content-Length bytes of body.
bool read_response(connection const& c)
{
    std::string data;
    std::array<char, 16384> chunk{};
    for (;;) {
        auto const end = data.find("\r\n\r\n");
        if (end != std::string::npos) {
            auto const at = data.find("Content-Length: ");
            auto const length =
                at < end ? std::strtoull(data.c_str() + at + 16, nullptr, 10) : 0;
            if (data.size() >= end + 4 + length)
                return true;
        }
        int const n = c.ssl != nullptr ? SSL_read(c.ssl, chunk.data(), chunk.size())
                                       : static_cast<int>(::recv(c.fd, chunk.data(), chunk.size(), 0));
        if (n <= 0)
            return false;
        data.append(chunk.data(), static_cast<std::size_t>(n));
    }
}

volatile std::sig_atomic_t stop = 0;

} // namespace

int main(int argc, char** argv)
{
    if (argc < 4) {
        std::fprintf(stderr, "usage: idle_clients PORT COUNT PATH [--tls]\n");
        return 64;
    }
    auto const port = static_cast<unsigned short>(std::atoi(argv[1]));
    auto const count = static_cast<std::size_t>(std::atol(argv[2]));
    std::string const request =
        std::string{"GET "} + argv[3] + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
    bool const tls = argc > 4 && std::strcmp(argv[4], "--tls") == 0;
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
    std::signal(SIGTERM, [](int) { stop = 1; });
    std::signal(SIGINT, [](int) { stop = 1; });

    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    // Memory is what is measured: the client keeps no record buffers while idle either.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    std::vector<connection> open;
    open.reserve(count);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (std::size_t i = 0; i < count && stop == 0; ++i) {
        connection c;
        c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
        if (::connect(c.fd, reinterpret_cast<sockaddr const*>(&addr), sizeof addr) != 0) {
            std::fprintf(stderr, "connect %zu: %s\n", i, std::strerror(errno));
            return 1;
        }
        if (tls) {
            c.ssl = SSL_new(ctx);
            SSL_set_fd(c.ssl, c.fd);
            SSL_set_tlsext_host_name(c.ssl, "localhost");
            if (SSL_connect(c.ssl) != 1) {
                std::fprintf(stderr, "handshake %zu failed\n", i);
                return 1;
            }
        }
        if (!send_all(c, request) || !read_response(c)) {
            std::fprintf(stderr, "exchange %zu failed\n", i);
            return 1;
        }
        open.push_back(c);
    }
    std::printf("ready %zu\n", open.size());
    std::fflush(stdout);
    while (stop == 0)
        ::pause();
    for (auto const& c : open) {
        SSL_free(c.ssl);
        ::close(c.fd);
    }
    SSL_CTX_free(ctx);
    return 0;
}
