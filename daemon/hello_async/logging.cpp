#include "hello_async/logging.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>

namespace hello_async {
namespace {

// Enough for a burst of several seconds at full request rate; 8192 entries of ~300 bytes.
constexpr std::size_t queue_entries = 8192;

std::shared_ptr<spdlog::logger>& access_logger()
{
    static std::shared_ptr<spdlog::logger> logger;
    return logger;
}

} // namespace

bool stderr_is_journal()
{
    char const* stream = std::getenv("JOURNAL_STREAM");
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

void init_logging(log_target target)
{
    static_cast<void>(target); // the journal sink is chosen here once the daemon speaks to it
    spdlog::init_thread_pool(queue_entries, 1);
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto main_logger = std::make_shared<spdlog::async_logger>(
        "hello-async", sink, spdlog::thread_pool(), spdlog::async_overflow_policy::overrun_oldest);
    main_logger->set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %v");
    auto requests = std::make_shared<spdlog::async_logger>(
        "access", sink, spdlog::thread_pool(), spdlog::async_overflow_policy::overrun_oldest);
    requests->set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %v");
    spdlog::set_default_logger(main_logger);
    access_logger() = requests;
}

spdlog::logger& access_log()
{
    if (!access_logger())
        access_logger() = spdlog::default_logger();
    return *access_logger();
}

std::size_t dropped_log_entries()
{
    auto pool = spdlog::thread_pool();
    return pool ? pool->overrun_counter() : 0;
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
