#include "hello_async/http/cli.hpp"
#include "hello_async/http/config.hpp"
#include "hello_async/http/sandbox_check.hpp"
#include "hello_async/server/logging.hpp"
#include "hello_async/server/server.hpp"
#include "hello_async/server/systemd.hpp"
#include "hello_async/server/tls_context.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <unistd.h>

namespace {

constexpr int exit_usage = 64;  // EX_USAGE
constexpr int exit_config = 78; // EX_CONFIG; the unit sets RestartPreventExitStatus=78

/// Writes `text` whole; false when the stream refused it (a full disk, a closed pipe), which
/// turns --version or --check-config into a failure rather than a silent success.
bool say(std::FILE* stream, std::string const& text)
{
    return std::fputs(text.c_str(), stream) >= 0 && std::fflush(stream) == 0;
}

int say_and_succeed(std::string const& text)
{
    return say(stdout, text) ? EXIT_SUCCESS : EXIT_FAILURE;
}

} // namespace

int main(int argc, char* argv[])
{
    using namespace hello_async;
    command_line cli;
    try {
        cli = parse_command_line(std::span<char const* const>{argv + 1, argv + argc});
    } catch (usage_error const& e) {
        static_cast<void>(
            say(stderr, "hello-async: " + std::string{e.what()} + "\n" + usage_text()));
        return exit_usage;
    }
    switch (cli.what) {
    case command_line::action::help:
        return say_and_succeed(usage_text());
    case command_line::action::version:
        return say_and_succeed(version_text());
    case command_line::action::check_config:
        try {
            auto const cfg = load_config(cli.config_path);
            std::string report;
            for (auto const& note : check_tls_certificates(cfg).notes)
                report += note + "\n";
            // Root reads anything: say what the service, a dynamic user in its sandbox, could
            // not. ExecReload= runs this check as the service itself, where it is exact.
            if (::geteuid() == 0) {
                for (auto const& warning : sandbox_warnings(cfg))
                    report += "warning: " + warning + "\n";
            }
            return say_and_succeed(report + cli.config_path.string() + ": configuration ok\n");
        } catch (config_error const& e) {
            static_cast<void>(say(stderr, std::string{e.what()} + "\n"));
            return exit_config;
        }
    case command_line::action::serve:
        break;
    }

    int status = EXIT_FAILURE;
    try {
        auto cfg = load_config(cli.config_path);
        init_logging(cli.log.value_or(cfg.server.log));
        auto site_now = std::make_shared<site const>(std::move(cfg));
        auto listeners = open_listeners(site_now->cfg);
        auto tls = load_tls_for(site_now->cfg, listeners);
        server srv{site_now, std::move(listeners), std::move(tls)};
        status = srv.run();
    } catch (config_error const& e) {
        // Before logging is up stderr is the only channel; under systemd it is the journal, and
        // the error is also the STATUS= that `systemctl status` shows of the failed service.
        constexpr int priority_err = 3;
        static_cast<void>(say(stderr, stderr_line(priority_err, e.what())));
        notify_failure_status(e.what());
        status = exit_config;
    } catch (std::exception const& e) {
        spdlog::critical("fatal: {}", e.what());
        notify_failure_status(std::string{"fatal: "} + e.what());
        status = EXIT_FAILURE;
    }
    shutdown_logging();
    return status;
}
