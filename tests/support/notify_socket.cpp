#include "support/notify_socket.hpp"

#include <array>
#include <cstring>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace hello_async::testing {

notify_socket::notify_socket(std::filesystem::path path)
    : path_{path.string()}
{
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path)
        throw std::runtime_error{"notify socket path too long: " + path_};
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    ::unlink(path_.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        throw std::runtime_error{"cannot bind notify socket " + path_};
}

notify_socket::~notify_socket()
{
    ::close(fd_);
    ::unlink(path_.c_str());
}

bool notify_socket::receive(std::chrono::milliseconds timeout)
{
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0)
        return false;
    std::array<char, 4096> buf{};
    auto const n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n <= 0)
        return false;
    messages_.emplace_back(buf.data(), static_cast<std::size_t>(n));
    return true;
}

std::string notify_socket::wait_for(std::string const& text, std::chrono::milliseconds timeout)
{
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    for (std::size_t checked = next_;;) {
        for (; checked < messages_.size(); ++checked) {
            if (messages_[checked].find(text) != std::string::npos) {
                next_ = checked + 1;
                return messages_[checked];
            }
        }
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || !receive(left))
            return {};
    }
}

void notify_socket::drain()
{
    while (receive(std::chrono::milliseconds{0})) {
    }
}

int notify_socket::index_of(std::string const& text, std::size_t from) const
{
    for (std::size_t i = from; i < messages_.size(); ++i) {
        if (messages_[i].find(text) != std::string::npos)
            return static_cast<int>(i);
    }
    return -1;
}

} // namespace hello_async::testing
