#include "hello_async/server/journal_writer.hpp"

#include "hello_async/http/string_writer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace hello_async {
namespace {

namespace net = boost::asio;

/// How long the first entry of a batch waits for more.
constexpr std::chrono::milliseconds batch_delay{1};
/// After journald refused a connection, how long to drop entries before trying again.
constexpr std::chrono::seconds reconnect_pause{1};
/// Queue space worth handing back once this many entries at its front are gone.
constexpr std::size_t compact_after = 256;

} // namespace

void append_journal_entry(std::string& out, std::initializer_list<journal_field> fields)
{
    std::size_t expected = 0;
    for (auto const& field : fields)
        expected += field.key.size() + field.value.size() + 2;
    string_writer writer{out, expected};
    for (auto const& field : fields) {
        writer.put(field.key);
        if (field.value.find('\n') == std::string_view::npos) {
            writer.put('=');
        } else {
            // The native protocol's binary form: KEY, newline, 64-bit little-endian length.
            writer.put('\n');
            std::array<char, 8> length{};
            auto bytes = static_cast<std::uint64_t>(field.value.size());
            for (auto& byte : length) {
                byte = static_cast<char>(bytes & 0xffU);
                bytes >>= 8U;
            }
            writer.put({length.data(), length.size()});
        }
        writer.put(field.value);
        writer.put('\n');
    }
}

journal_writer::journal_writer(net::io_context& ioc,
                               std::string socket_path,
                               std::atomic<std::size_t>& dropped)
    : ioc_{ioc}
    , socket_path_{std::move(socket_path)}
    , dropped_{dropped}
    , socket_{ioc}
    , batch_timer_{ioc}
    , room_{ioc, std::chrono::steady_clock::time_point::max()}
    , datagram_limit_{datagram_bytes}
{
    connect();
}

journal_writer::~journal_writer() = default;

void journal_writer::connect()
{
    boost::system::error_code ignored;
    socket_.close(ignored);
    next_connect_ = std::chrono::steady_clock::now() + reconnect_pause;
    int const fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof address.sun_path) {
        ::close(fd);
        return;
    }
    std::memcpy(address.sun_path, socket_path_.data(), socket_path_.size());
    // Batches in flight while journald catches up: more than the kernel's default allows.
    int const send_buffer = 1 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
    // The sockets API takes every address family through sockaddr.
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    if (::connect(fd, reinterpret_cast<sockaddr const*>(&address), sizeof address) != 0) {
        ::close(fd);
        return;
    }
    socket_.assign(fd, ignored);
    if (ignored)
        ::close(fd);
}

void journal_writer::submit(std::string_view entry, bool keep_all)
{
    if (!keep_all && queued() >= backlog_max) {
        drop_queued(1);
        compact();
    }
    bytes_.append(entry);
    bytes_.push_back('\n'); // the empty line that ends an entry within a datagram
    ends_.push_back(bytes_.size());
    if (waiting_for_socket_)
        return; // the queue goes out when journald makes room
    if (bytes_.size() - start_of(first_) >= datagram_limit_) {
        if (!send_scheduled_) {
            send_scheduled_ = true;
            net::post(ioc_, [this] {
                send_scheduled_ = false;
                send_pending();
            });
        }
    } else if (!batch_timer_armed_) {
        // Gather a batch for a moment: fewer system calls, and journald woken fewer times.
        batch_timer_armed_ = true;
        batch_timer_.expires_after(batch_delay);
        batch_timer_.async_wait([this](boost::system::error_code ec) {
            batch_timer_armed_ = false;
            if (!ec && !waiting_for_socket_)
                send_pending();
        });
    }
}

void journal_writer::drop_queued(std::size_t count)
{
    count = std::min(count, queued());
    first_ += count;
    dropped_.fetch_add(count, std::memory_order_relaxed);
}

void journal_writer::compact()
{
    if (queued() == 0) {
        bytes_.clear();
        ends_.clear();
        first_ = 0;
        return;
    }
    // Moving the rest to the front costs as much as what it frees, so only when that is half.
    if (first_ < compact_after || first_ * 2 < ends_.size())
        return;
    std::size_t const consumed = ends_[first_ - 1];
    bytes_.erase(0, consumed);
    ends_.erase(ends_.begin(), ends_.begin() + static_cast<std::ptrdiff_t>(first_));
    for (auto& end : ends_)
        end -= consumed;
    first_ = 0;
}

void journal_writer::send_pending()
{
    while (queued() > 0) {
        if (!socket_.is_open()) {
            if (std::chrono::steady_clock::now() >= next_connect_)
                connect();
            if (!socket_.is_open()) {
                drop_queued(queued());
                break;
            }
        }
        std::size_t const begin = start_of(first_);
        std::size_t past_last = first_ + 1; // at least one entry, however long
        while (past_last < ends_.size() && ends_[past_last] - begin <= datagram_limit_)
            ++past_last;
        std::size_t const entries = past_last - first_;
        auto const sent = ::send(socket_.native_handle(), bytes_.data() + begin,
                                 ends_[past_last - 1] - begin, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent >= 0) {
            first_ = past_last;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            wait_for_socket();
            break;
        }
        if (errno == EMSGSIZE && entries > 1) {
            // The send buffer is smaller than a datagram here: send fewer entries at a time.
            datagram_limit_ = std::max<std::size_t>(datagram_limit_ / 2, 1);
            continue;
        }
        if (errno == EMSGSIZE || errno == ENOBUFS) {
            drop_queued(entries); // too large for any datagram, or no kernel memory: lost
            continue;
        }
        // journald went away (ECONNREFUSED, ENOTCONN, ...): reconnect later, lose the batch.
        boost::system::error_code ignored;
        socket_.close(ignored);
        drop_queued(queued());
    }
    compact();
    wake_waiters_if_room();
}

void journal_writer::wake_waiters_if_room()
{
    if (has_room())
        room_.cancel();
}

net::awaitable<void> journal_writer::wait_for_room()
{
    // The timer's expiry stays at the end of time: setting it would cancel the other waiters.
    while (!has_room())
        static_cast<void>(co_await room_.async_wait(net::as_tuple(net::use_awaitable)));
}

void journal_writer::wait_for_socket()
{
    waiting_for_socket_ = true;
    socket_.async_wait(net::posix::stream_descriptor::wait_write,
                       [this](boost::system::error_code ec) {
                           waiting_for_socket_ = false;
                           if (!ec)
                               send_pending();
                       });
}

void journal_writer::flush_before_exit(std::chrono::milliseconds patience)
{
    auto const give_up = std::chrono::steady_clock::now() + patience;
    send_pending();
    while (queued() > 0 && socket_.is_open()) {
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(
            give_up - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            break;
        pollfd room{socket_.native_handle(), POLLOUT, 0};
        if (::poll(&room, 1, static_cast<int>(left.count())) <= 0)
            break;
        waiting_for_socket_ = false;
        send_pending();
    }
    drop_queued(queued());
}

} // namespace hello_async
