#include "hello_async/cli.hpp"
#include "hello_async/config.hpp"
#include "hello_async/logging.hpp"
#include "hello_async/server.hpp"
#include "hello_async/systemd.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <span>

namespace {

constexpr int exit_usage = 64;  // EX_USAGE
constexpr int exit_config = 78; // EX_CONFIG; the unit sets RestartPreventExitStatus=78

} // namespace

int main(int argc, char* argv[])
{
    using namespace hello_async;
    command_line cli;
    try {
        cli = parse_command_line(std::span<char const* const>{argv + 1, argv + argc});
    } catch (usage_error const& e) {
        std::fprintf(stderr, "hello-async: %s\n%s", e.what(), usage_text().c_str());
        return exit_usage;
    }
    switch (cli.what) {
    case command_line::action::help:
        std::fputs(usage_text().c_str(), stdout);
        return EXIT_SUCCESS;
    case command_line::action::version:
        std::fputs(version_text().c_str(), stdout);
        return EXIT_SUCCESS;
    case command_line::action::check_config:
        try {
            auto const cfg = load_config(cli.config_path);
            std::printf("%s: configuration ok\n", cli.config_path.c_str());
            return EXIT_SUCCESS;
        } catch (config_error const& e) {
            std::fprintf(stderr, "%s\n", e.what());
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
        auto listeners = [&] {
            if (auto adopted = adopt_listen_sockets(site_now->cfg.server.socket_name)) {
                for (auto const& other : adopted->ignored)
                    spdlog::warn("socket activation: ignoring {}", other);
                return std::move(adopted->listeners);
            }
            return bind_listeners(site_now->cfg.server.listen);
        }();
        server srv{site_now, std::move(listeners)};
        status = srv.run();
    } catch (config_error const& e) {
        // Before logging is up stderr is the only channel; under systemd it is the journal.
        std::fprintf(stderr, "%s\n", e.what());
        status = exit_config;
    } catch (std::exception const& e) {
        spdlog::critical("fatal: {}", e.what());
        status = EXIT_FAILURE;
    }
    shutdown_logging();
    return status;
}
