#pragma once

#include "hello_async/http/access_entry.hpp"
#include "hello_async/http/config.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include <exception>
#include <memory>
#include <string>
#include <string_view>

namespace hello_async {

/// Sets up the daemon's loggers once, in one place: messages through spdlog's default logger,
/// request lines through log_access(). To the journal (spdlog's systemd sink for messages, one
/// entry with HTTP_* fields per request) or to stderr, as `target` and JOURNAL_STREAM say.
///
/// Messages sit behind one async spdlog queue written by one logging thread, so a slow sink (a
/// busy terminal, a rate-limiting or stopped journald) never stalls an I/O thread; on stderr,
/// request lines share that queue (2048 entries). When it is full the oldest queued entry is
/// dropped to make room for the new one. Drops there, in the I/O threads' journal queues, and
/// entries a sink refused are counted (dropped_log_entries(), in STATUS).
void init_logging(log_target target);

class journal_writer;

/// For as long as an I/O thread runs its loop: with the journal as target, the thread sends its
/// request lines to journald itself, in batches, from its own queue (journal_writer). No other
/// thread is involved, and a slow journald costs dropped entries, never a stalled thread.
/// Without the journal, request lines take the shared spdlog queue.
class thread_access_log
{
  public:
    explicit thread_access_log(boost::asio::io_context& ioc);
    thread_access_log(thread_access_log const&) = delete;
    thread_access_log& operator=(thread_access_log const&) = delete;
    thread_access_log(thread_access_log&&) = delete;
    thread_access_log& operator=(thread_access_log&&) = delete;
    /// Sends what is still queued, waiting briefly for journald.
    ~thread_access_log();

  private:
    std::unique_ptr<journal_writer> writer_;
};

/// The completion handler of spawned coroutines: an exception ends that coroutine only, and is
/// logged rather than lost (net::detached would drop it silently).
template <spdlog::level::level_enum Level>
struct log_failure
{
    char const* what;
    void operator()(const std::exception_ptr& failure) const
    {
        if (!failure)
            return;
        try {
            std::rethrow_exception(failure);
        } catch (std::exception const& e) {
            spdlog::log(Level, "{} ended by an exception: {}", what, e.what());
        }
    }
};

/// Logs one answered request from an I/O thread. With log_overflow::wait a full journal queue
/// keeps the entry, and the caller then waits in access_log_room() before its next request.
void log_access(access_entry const& entry, log_overflow overflow = log_overflow::drop);

/// Whether access_log_room() would return at once.
[[nodiscard]] bool access_log_has_room();

/// Returns once this thread's journal queue has room again (at once when it has, or when
/// request lines do not go to the journal). Suspends the calling coroutine only: the thread
/// goes on serving other connections and sending the queue to journald.
boost::asio::awaitable<void> access_log_room();

/// Appends `entry` as one journal entry in the native protocol: MESSAGE is `line` (as
/// format_access_entry made it), then SYSLOG_IDENTIFIER, PRIORITY by status class, and the
/// request's parts as fields of their own so that `journalctl HTTP_STATUS=404` finds them.
void append_access_journal_entry(std::string& out,
                                 access_entry const& entry,
                                 std::string_view line);

/// Says that `count` entries were dropped in the last `interval`: a warning, with the count in
/// the field DROPPED_ENTRIES in the journal. Sent from a thread with a thread_access_log, so
/// that a journald too slow for the request lines cannot stall the thread with this one.
void log_dropped_entries(std::size_t count, std::chrono::seconds interval);

/// Entries lost so far: dropped because the queue was full, or refused by the sink.
[[nodiscard]] std::size_t dropped_log_entries();

/// True when stderr is a stream to journald (JOURNAL_STREAM names stderr's device and inode).
[[nodiscard]] bool stderr_is_journal();

/// `text` as one line for stderr at syslog `priority` (3 is err): with the "<N>" prefix journald
/// reads as the entry's priority when stderr is a journal stream, bare on a terminal.
[[nodiscard]] std::string stderr_line(int priority, std::string_view text);

/// Writes out everything queued; call before exit.
void shutdown_logging();

} // namespace hello_async
