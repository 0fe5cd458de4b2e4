// The memory floor of the daemon's libraries: a program that links what the daemon links
// (libsystemd, libstdc++, spdlog, fmt, toml++, OpenSSL, nghttp2), has them loaded, and only
// pauses. The benchmark reads its Pss beside an idle daemon's.
//
// With --start-up CONFIG it first uses the libraries as any daemon built on them must at start,
// and then pauses: toml++ parses CONFIG, sd-daemon looks for passed sockets and notifies,
// spdlog's asynchronous journal sink logs one line from its own thread, and one more thread
// waits, as an I/O thread would. None of the daemon's own code runs, so the difference to the
// plain floor is what the libraries cost once they are used.
//
// usage: library_floor [--start-up CONFIG | --link-only]
#include <spdlog/async.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <toml++/toml.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>

#include "read_whole_file.hpp"

namespace {

void start_up(char const* config_path)
{
    auto const config = toml::parse(read_whole_file(config_path), std::string{config_path});
    auto const threads = config["server"]["threads"].value_or(1);
    char** names = nullptr;
    int const passed = ::sd_listen_fds_with_names(0, &names);
    constexpr std::size_t queue_entries = 128; // the daemon's, with the journal
    spdlog::init_thread_pool(queue_entries, 1);
    auto logger = std::make_shared<spdlog::async_logger>(
        "library_floor", std::make_shared<spdlog::sinks::systemd_sink_mt>("library_floor"),
        spdlog::thread_pool(), spdlog::async_overflow_policy::overrun_oldest);
    spdlog::set_default_logger(logger);
    spdlog::info("start-up use of the libraries: {} passed sockets; {} I/O threads",
                 passed > 0 ? passed : 0, threads);
    ::sd_notify(0, "READY=1");
    // The line is on its way once the logging thread has taken it from the queue.
    while (spdlog::thread_pool()->queue_size() != 0)
        std::this_thread::yield();
    static std::mutex lock;
    static std::condition_variable never;
    std::thread{[] {
        std::unique_lock held{lock};
        never.wait(held, [] { return false; });
    }}.detach();
    std::puts("ready");
    std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv)
{
    std::span<char*> const args{argv, static_cast<std::size_t>(argc)};
    if (args.size() == 3 && std::string_view{args[1]} == "--start-up") {
        start_up(args[2]);
    } else if (args.size() == 2 && std::string_view{args[1]} == "--link-only") {
        // Never run by the benchmark: the calls only make the linker keep every library.
        auto const parsed = toml::parse("a = 1");
        spdlog::info("{} {} {} {}", sd_booted(), nghttp2_version(0)->version_num,
                     static_cast<void const*>(TLS_server_method()), parsed["a"].value_or(0));
        return 0;
    } else if (args.size() != 1) {
        std::fputs("usage: library_floor [--start-up CONFIG | --link-only]\n", stderr);
        return 64;
    }
    for (;;)
        ::pause();
}
