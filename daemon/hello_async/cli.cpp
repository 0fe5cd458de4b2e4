#include "hello_async/cli.hpp"

#include "hello_async/response.hpp"

#include <string_view>

namespace hello_async {

command_line parse_command_line(std::span<char const* const> args)
{
    command_line out;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view const arg{args[i]};
        auto value_of = [&](std::string_view option) -> std::string_view {
            if (arg.size() > option.size() && arg[option.size()] == '=')
                return arg.substr(option.size() + 1);
            if (i + 1 >= args.size())
                throw usage_error{std::string{option} + " needs a value"};
            return args[++i];
        };
        if (arg == "--help" || arg == "-h") {
            out.what = command_line::action::help;
        } else if (arg == "--version") {
            out.what = command_line::action::version;
        } else if (arg == "--check-config" || arg == "-t") {
            out.what = command_line::action::check_config;
        } else if (arg == "--config" || arg.starts_with("--config=") || arg == "-c") {
            auto const path = value_of(arg == "-c" ? "-c" : "--config");
            if (path.empty())
                throw usage_error{"--config needs a non-empty path"};
            out.config_path = path;
        } else if (arg == "--log-target" || arg.starts_with("--log-target=")) {
            auto const target = value_of("--log-target");
            if (target == "auto")
                out.log = log_target::automatic;
            else if (target == "journal")
                out.log = log_target::journal;
            else if (target == "stderr")
                out.log = log_target::stderr_stream;
            else
                throw usage_error{"--log-target takes auto, journal or stderr, not \"" +
                                  std::string{target} + "\""};
        } else {
            throw usage_error{"unknown argument \"" + std::string{arg} + "\""};
        }
    }
    return out;
}

std::string usage_text()
{
    return std::string{"Usage: hello-async [--config PATH] [--log-target auto|journal|stderr]\n"
                       "       hello-async --check-config [--config PATH]\n"
                       "       hello-async --version | --help\n"
                       "\n"
                       "A small HTTP/1.1 daemon for systemd: socket activation, sd_notify and\n"
                       "the journal; without systemd it binds server.listen and logs to stderr.\n"
                       "\n"
                       "  -c, --config PATH     config file (default "} +
           default_config_path +
           ")\n"
           "  -t, --check-config    validate the config file, exit 0 or 78, serve nothing\n"
           "      --log-target T    auto (journal when stderr is the journal), journal, stderr\n"
           "      --version         print the version\n"
           "  -h, --help            print this text\n"
           "\n"
           "Exit status: 0 after a clean stop, 64 bad arguments, 78 bad config, 1 other "
           "failure.\n";
}

std::string version_text()
{
    return std::string{server_token()} + "\n";
}

} // namespace hello_async
