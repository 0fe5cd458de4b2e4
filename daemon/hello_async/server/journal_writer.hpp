#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace hello_async {

/// One journal field of an entry being built: KEY and its value (any bytes).
struct journal_field
{
    std::string_view key;
    std::string_view value;
};

/// Appends one entry in journald's native protocol (KEY=value lines; a value holding a newline
/// is sent length-prefixed) to `out`.
void append_journal_entry(std::string& out, std::initializer_list<journal_field> fields);

/// One I/O thread's connection to journald for request lines.
///
/// Entries are queued in the thread's own memory and sent a millisecond after the first of a
/// batch, or as soon as a datagram's worth is queued. A datagram carries many entries, each
/// ended by an empty line: journald's native protocol document speaks of one entry per
/// datagram, but journald has always read consecutive entries from one (its native reader loops
/// until the datagram is used up). Per entry, the kernel's cost of a datagram with credentials,
/// and journald's of receiving one and looking its sender up, is then shared by a whole batch.
/// The socket is non-blocking and no other thread of ours is involved.
///
/// While journald's socket is full, up to `backlog_max` entries wait for room. Past that, as
/// the caller chooses: the oldest is dropped for each new one (counted), so that a slow,
/// rate-limiting or stopped journald never slows the server down; or the entry is kept and the
/// caller's coroutine waits in wait_for_room() before it submits more, so that nothing is lost
/// and requests go at journald's pace. The thread's loop runs on either way.
class journal_writer
{
  public:
    static constexpr std::size_t backlog_max = 4096;
    /// Bytes of entries per datagram (one longer entry goes alone), and the batch that goes out
    /// without waiting: about a hundred request entries. Far below the socket's send buffer,
    /// and small enough for the kernel to allocate without effort.
    static constexpr std::size_t datagram_bytes = std::size_t{32} * 1024;

    /// `socket_path` is journald's native socket; `dropped` counts lost entries.
    journal_writer(boost::asio::io_context& ioc,
                   std::string socket_path,
                   std::atomic<std::size_t>& dropped);
    journal_writer(journal_writer const&) = delete;
    journal_writer& operator=(journal_writer const&) = delete;
    journal_writer(journal_writer&&) = delete;
    journal_writer& operator=(journal_writer&&) = delete;
    ~journal_writer();

    /// Queues one entry for the next batch: native-protocol fields, each ending in a newline
    /// (as append_journal_entry makes them), with no empty line. With the queue full the
    /// oldest entry makes way, unless `keep_all`: then the queue grows past its bound, and the
    /// caller waits in wait_for_room() before its next entry.
    void submit(std::string_view entry, bool keep_all = false);

    /// False while `backlog_max` entries or more wait for journald.
    [[nodiscard]] bool has_room() const { return queued() < backlog_max; }

    /// Returns once the queue is below its bound: journald took entries, or went away (its
    /// entries then count as dropped).
    boost::asio::awaitable<void> wait_for_room();

    /// Memory held for entries not yet sent; bounded by `backlog_max` entries, whatever journald
    /// does.
    [[nodiscard]] std::size_t buffered_bytes() const { return bytes_.capacity(); }

    /// Sends what is queued, waiting up to `patience` for room: for the end of the thread.
    void flush_before_exit(std::chrono::milliseconds patience);

  private:
    void send_pending();
    void connect();
    void wait_for_socket();
    void drop_queued(std::size_t count);
    void compact();
    void wake_waiters_if_room();
    [[nodiscard]] std::size_t queued() const { return ends_.size() - first_; }
    [[nodiscard]] std::size_t start_of(std::size_t index) const
    {
        return index == 0 ? 0 : ends_[index - 1];
    }

    boost::asio::io_context& ioc_;
    std::string socket_path_;
    std::atomic<std::size_t>& dropped_;
    /// The connected datagram socket; a descriptor object so the reactor can tell when
    /// journald has made room.
    boost::asio::posix::stream_descriptor socket_;
    std::string bytes_;             ///< queued entries, each followed by an empty line
    std::vector<std::size_t> ends_; ///< where each queued entry (and its empty line) ends
    std::size_t first_{0};          ///< entries before this one are sent
    bool send_scheduled_{false};
    bool waiting_for_socket_{false};
    boost::asio::steady_timer batch_timer_;
    /// Never expires: cancelled to wake the coroutines in wait_for_room().
    boost::asio::steady_timer room_;
    bool batch_timer_armed_{false};
    std::chrono::steady_clock::time_point next_connect_{};
    /// Lowered if the socket's send buffer turns out too small for a full datagram.
    std::size_t datagram_limit_;
};

} // namespace hello_async
