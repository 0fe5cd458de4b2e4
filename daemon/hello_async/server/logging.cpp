#include "hello_async/server/logging.hpp"

#include "hello_async/http/access_entry.hpp"
#include "hello_async/http/decimal.hpp"
#include "hello_async/http/request_path.hpp"
#include "hello_async/server/journal_writer.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>

namespace hello_async {
namespace {

// spdlog allocates and touches every slot up front (~330 bytes each): 2048 entries absorb a
// burst of tens of milliseconds at full request rate for under 1 MiB of resident memory.
constexpr std::size_t queue_entries = 2048;
/// With the journal, request lines bypass the queue: it carries the daemon's own messages only.
constexpr std::size_t message_queue_entries = 128;

constexpr char const* journal_socket = "/run/systemd/journal/socket";

constexpr std::string_view identifier{"hello-async"};

std::shared_ptr<spdlog::logger>& access_logger()
{
    static std::shared_ptr<spdlog::logger> logger;
    return logger;
}

/// The request logger for lines outside thread_access_log; never null after init_logging().
spdlog::logger& access_log()
{
    if (!access_logger())
        access_logger() = spdlog::default_logger();
    return *access_logger();
}

// Logging is process-wide by nature: one set of sinks, counters every thread adds to, and each
// I/O thread's own journal writer.
// NOLINTBEGIN(cppcoreguidelines-avoid-non-const-global-variables)

/// Entries a sink could not deliver (journald gone, its socket full for good).
std::atomic<std::size_t> failed_entries{0};

/// Whether I/O threads send request lines to journald themselves (see thread_access_log).
std::atomic<bool> journal_access{false};

thread_local journal_writer* this_thread_journal = nullptr;

// NOLINTEND(cppcoreguidelines-avoid-non-const-global-variables)

bool use_journal(log_target target)
{
    switch (target) {
    case log_target::journal:
        return true;
    case log_target::stderr_stream:
        return false;
    case log_target::automatic:
        break;
    }
    return stderr_is_journal();
}

} // namespace

bool stderr_is_journal()
{
    // Read at start-up; nothing in the daemon calls setenv.
    char const* stream = std::getenv("JOURNAL_STREAM"); // NOLINT(concurrency-mt-unsafe)
    if (stream == nullptr)
        return false;
    unsigned long long dev = 0;
    unsigned long long ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) // NOLINT(cert-err34-c)
        return false;
    struct stat st
    {
    };
    if (::fstat(2, &st) != 0)
        return false;
    return st.st_dev == dev && st.st_ino == ino;
}

std::string stderr_line(int priority, std::string_view text)
{
    std::string line;
    if (stderr_is_journal())
        line = "<" + std::to_string(priority) + ">";
    line += text;
    line += '\n';
    return line;
}

void append_access_journal_entry(std::string& out, access_entry const& entry, std::string_view line)
{
    decimal const priority{static_cast<std::uint64_t>(syslog_priority_for_status(entry.status))};
    decimal const status{entry.status};
    decimal const bytes{entry.bytes};
    decimal const usec{duration_usec(entry)};
    append_journal_entry(
        out, {{"MESSAGE", line},
              {"SYSLOG_IDENTIFIER", identifier},
              {"PRIORITY", priority.text()},
              {"HTTP_STATUS", status.text()},
              {"HTTP_BYTES", bytes.text()},
              {"DURATION_USEC", usec.text()},
              {"REMOTE_ADDR", entry.peer.empty() ? std::string_view{"-"} : entry.peer}});
    if (!entry.tls_protocol.empty()) {
        std::string sni_storage;
        append_journal_entry(
            out, {{"TLS_PROTOCOL", entry.tls_protocol},
                  {"TLS_CIPHER", entry.tls_cipher},
                  {"TLS_SNI", entry.tls_sni.empty() ? std::string_view{"-"}
                                                    : loggable(entry.tls_sni, sni_storage)}});
    }
    if (entry.method.empty())
        return; // no request line to take apart: MESSAGE shows what came instead
    std::string method_storage;
    std::string target_storage;
    append_journal_entry(out, {{"HTTP_METHOD", loggable(entry.method, method_storage)},
                               {"HTTP_TARGET", loggable(entry.target, target_storage)},
                               {"HTTP_VERSION", version_text(entry.version)}});
}

void init_logging(log_target target)
{
    bool const to_journal = use_journal(target);
    journal_access = to_journal;
    spdlog::init_thread_pool(to_journal ? message_queue_entries : queue_entries, 1);
    spdlog::sink_ptr message_sink;
    if (to_journal) {
        // The journal stamps time, priority and identifier itself: the message alone suffices.
        message_sink = std::make_shared<spdlog::sinks::systemd_sink_mt>(std::string{identifier});
    } else {
        message_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
        message_sink->set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %v");
    }
    auto request_sink = message_sink;
    auto make = [](std::string name, spdlog::sink_ptr sink) {
        auto logger = std::make_shared<spdlog::async_logger>(
            std::move(name), std::move(sink), spdlog::thread_pool(),
            spdlog::async_overflow_policy::overrun_oldest);
        // Called on the logging thread when a sink throws (journald gone): count, don't spam.
        logger->set_error_handler([](std::string const& /*message*/) {
            failed_entries.fetch_add(1, std::memory_order_relaxed);
        });
        return logger;
    };
    auto main_logger = make("hello-async", std::move(message_sink));
    spdlog::set_default_logger(main_logger);
    access_logger() = make("access", std::move(request_sink));
}

thread_access_log::thread_access_log(boost::asio::io_context& ioc)
{
    if (!journal_access)
        return;
    writer_ = std::make_unique<journal_writer>(ioc, journal_socket, failed_entries);
    this_thread_journal = writer_.get();
}

thread_access_log::~thread_access_log()
{
    if (!writer_)
        return;
    writer_->flush_before_exit(std::chrono::seconds{1});
    this_thread_journal = nullptr;
}

void log_access(access_entry const& entry, log_overflow overflow)
{
    // One buffer each per thread, not per connection or request.
    thread_local std::string line;
    thread_local std::string journal_entry;
    line.clear();
    format_access_entry(line, entry);
    if (this_thread_journal == nullptr) {
        access_log().info(std::string_view{line});
        return;
    }
    journal_entry.clear();
    append_access_journal_entry(journal_entry, entry, line);
    this_thread_journal->submit(journal_entry, overflow == log_overflow::wait);
}

void log_dropped_entries(std::size_t count, std::chrono::seconds interval)
{
    auto const message = std::to_string(count) + " request entries dropped in the last " +
                         std::to_string(interval.count()) + " s (journald not keeping up)";
    if (this_thread_journal == nullptr) {
        spdlog::warn("{}", message);
        return;
    }
    constexpr std::uint64_t priority_warning = 4;
    decimal const priority{priority_warning};
    decimal const dropped{count};
    std::string entry;
    append_journal_entry(entry, {{"MESSAGE", message},
                                 {"SYSLOG_IDENTIFIER", identifier},
                                 {"PRIORITY", priority.text()},
                                 {"DROPPED_ENTRIES", dropped.text()}});
    // One entry per interval: it may wait for room past the queue's bound.
    this_thread_journal->submit(entry, true);
}

bool access_log_has_room()
{
    return this_thread_journal == nullptr || this_thread_journal->has_room();
}

boost::asio::awaitable<void> access_log_room()
{
    if (!access_log_has_room()) {
        co_await this_thread_journal->wait_for_room();
    }
}

std::size_t dropped_log_entries()
{
    auto pool = spdlog::thread_pool();
    return (pool ? pool->overrun_counter() : 0) + failed_entries.load(std::memory_order_relaxed);
}

void shutdown_logging()
{
    if (auto const& logger = access_logger())
        logger->flush();
    spdlog::default_logger()->flush();
    access_logger().reset();
    spdlog::shutdown();
}

} // namespace hello_async
