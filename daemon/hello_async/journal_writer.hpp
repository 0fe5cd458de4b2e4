#pragma once

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
/// batch, or as soon as a batch is full: one sendmmsg carries it, one datagram per entry, so
/// the cost of the system call is shared, journald is woken once per batch and no other thread
/// of ours is involved. The socket is non-blocking.
///
/// A slow, rate-limiting or stopped journald never slows the server down. While
/// journald's socket is full, up to `backlog_max` entries wait for room; past that the oldest
/// is dropped for each new one, and drops are counted.
class journal_writer
{
  public:
    static constexpr std::size_t backlog_max = 4096;

    /// `socket_path` is journald's native socket; `dropped` counts lost entries.
    journal_writer(boost::asio::io_context& ioc,
                   std::string socket_path,
                   std::atomic<std::size_t>& dropped);
    journal_writer(journal_writer const&) = delete;
    journal_writer& operator=(journal_writer const&) = delete;
    ~journal_writer();

    /// Queues one entry (already in the native protocol) for the next batch.
    void submit(std::string_view entry);

    /// Sends what is queued, waiting up to `patience` for room: for the end of the thread.
    void flush_before_exit(std::chrono::milliseconds patience);

  private:
    void send_pending();
    void connect();
    void wait_for_socket();
    void drop_queued(std::size_t count);
    [[nodiscard]] std::size_t queued() const { return ends_.size() - first_; }

    boost::asio::io_context& ioc_;
    std::string socket_path_;
    std::atomic<std::size_t>& dropped_;
    /// The connected datagram socket; a descriptor object so the reactor can tell when
    /// journald has made room.
    boost::asio::posix::stream_descriptor socket_;
    std::string bytes_;             ///< queued entries, back to back
    std::vector<std::size_t> ends_; ///< where each queued entry ends in bytes_
    std::size_t first_{0};          ///< entries before this one are sent
    bool send_scheduled_{false};
    bool waiting_for_socket_{false};
    boost::asio::steady_timer batch_timer_;
    bool batch_timer_armed_{false};
    std::chrono::steady_clock::time_point next_connect_{};
};

} // namespace hello_async
