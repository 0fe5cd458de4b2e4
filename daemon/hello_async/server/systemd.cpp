#include "hello_async/server/systemd.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <ctime>
#include <span>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <system_error>

namespace hello_async {
namespace {

void notify(std::string const& message)
{
    // Failure to notify is not fatal: the manager times the start out and says why.
    static_cast<void>(::sd_notify(0, message.c_str()));
}

std::uint64_t monotonic_usec()
{
    struct timespec ts
    {
    };
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000U +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1000U;
}

/// STATUS= takes one line: a newline would start a new assignment.
std::string one_line(std::string_view text)
{
    std::string out{text};
    for (auto& c : out) {
        if (c == '\n' || c == '\r')
            c = ' ';
    }
    return out;
}

/// The names sd_listen_fds_with_names() allocates: freed however the adoption ends, a throw
/// included.
class listen_fd_names
{
  public:
    listen_fd_names() = default;
    listen_fd_names(listen_fd_names const&) = delete;
    listen_fd_names& operator=(listen_fd_names const&) = delete;
    listen_fd_names(listen_fd_names&&) = delete;
    listen_fd_names& operator=(listen_fd_names&&) = delete;
    ~listen_fd_names()
    {
        if (names_ == nullptr)
            return;
        // sd-daemon allocates with malloc, so they go back with free.
        for (char* name : std::span{names_, count_})
            std::free(name); // NOLINT(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory)
        std::free(names_);   // NOLINT(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory)
    }

    /// Takes the list and the count sd_listen_fds_with_names() returned.
    void adopt(char** names, int count)
    {
        names_ = names;
        count_ = count > 0 ? static_cast<std::size_t>(count) : 0;
    }

    /// The i-th name; "unknown", as systemd says, when there is none.
    [[nodiscard]] std::string name(std::size_t i) const
    {
        if (names_ == nullptr || i >= count_)
            return "unknown";
        char const* name = std::span{names_, count_}[i];
        return name != nullptr ? name : "unknown";
    }

  private:
    char** names_{nullptr};
    std::size_t count_{0};
};

} // namespace

void notify_failure_status(std::string_view why)
{
    notify("STATUS=" + one_line(why));
    constexpr std::uint64_t barrier_timeout_usec = 1000000;
    static_cast<void>(::sd_notify_barrier(0, barrier_timeout_usec));
}

std::optional<adopted_sockets> adopt_listen_sockets(std::string_view plain_name,
                                                    std::string_view tls_name)
{
    char** raw_names = nullptr;
    // unset_environment=1: children (there are none) and a re-exec must not adopt them again.
    int const count = ::sd_listen_fds_with_names(1, &raw_names);
    listen_fd_names names;
    names.adopt(raw_names, count);
    if (count < 0)
        throw std::system_error{-count, std::generic_category(), "sd_listen_fds_with_names"};
    if (count == 0)
        return std::nullopt;

    adopted_sockets out;
    for (int i = 0; i < count; ++i) {
        int const fd = SD_LISTEN_FDS_START + i;
        std::string const name = names.name(static_cast<std::size_t>(i));
        unique_fd owned{fd};
        // systemd names fds "unknown" when the unit sets no FileDescriptorName=; a lone
        // unnamed socket is ours too (systemd-socket-activate without --fdname).
        bool const tls = name == tls_name;
        bool const ours = tls || name == plain_name || (count == 1 && name == "unknown");
        if (!ours) {
            out.ignored.push_back("fd " + std::to_string(fd) + " (name \"" + name + "\")");
            static_cast<void>(owned.release()); // not ours to close either
            continue;
        }
        int const inet = ::sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0);
        if (inet <= 0) {
            throw std::runtime_error{"socket activation: fd " + std::to_string(fd) + " (name \"" +
                                     name + "\") is not a listening TCP socket"};
        }
        (tls ? out.tls_listeners : out.listeners).push_back(std::move(owned));
    }
    if (out.listeners.empty() && out.tls_listeners.empty()) {
        throw std::runtime_error{"socket activation: no socket named \"" + std::string{plain_name} +
                                 "\" or \"" + std::string{tls_name} + "\" among the " +
                                 std::to_string(count) + " passed"};
    }
    return out;
}

void notify_ready(std::string_view status)
{
    notify("READY=1\nSTATUS=" + one_line(status));
}

void notify_status(std::string_view status)
{
    notify("STATUS=" + one_line(status));
}

void notify_stopping(std::string_view status)
{
    notify("STOPPING=1\nSTATUS=" + one_line(status));
}

void notify_reloading()
{
    notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()) +
           "\nSTATUS=reloading configuration");
}

void notify_watchdog()
{
    notify("WATCHDOG=1");
}

void notify_extend_timeout(std::chrono::microseconds extra)
{
    notify("EXTEND_TIMEOUT_USEC=" + std::to_string(extra.count()));
}

std::optional<std::chrono::microseconds> watchdog_interval()
{
    std::uint64_t usec = 0;
    if (::sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return std::nullopt;
    return std::chrono::microseconds{usec};
}

} // namespace hello_async
