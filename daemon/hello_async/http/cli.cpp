#include "hello_async/http/cli.hpp"

#include "hello_async/http/response.hpp"

#include <optional>
#include <string_view>

namespace hello_async {

namespace {

/// The action an option without a value selects; nullopt for any other argument.
std::optional<command_line::action> action_of(std::string_view arg)
{
    if (arg == "--help" || arg == "-h")
        return command_line::action::help;
    if (arg == "--version")
        return command_line::action::version;
    if (arg == "--check-config" || arg == "-t")
        return command_line::action::check_config;
    return std::nullopt;
}

/// The option an argument that takes a value names ("--config" for "-c" and "--config=x");
/// nullopt for an unknown argument.
std::optional<std::string_view> value_option_of(std::string_view arg)
{
    for (std::string_view const option : {"--config", "--log-target"}) {
        if (arg == option ||
            (arg.starts_with(option) && arg.substr(option.size()).starts_with('=')))
            return option;
    }
    if (arg == "-c")
        return std::string_view{"--config"};
    return std::nullopt;
}

void apply_value(std::string_view option, std::string_view value, command_line& out)
{
    if (option == "--config") {
        if (value.empty())
            throw usage_error{"--config needs a non-empty path"};
        out.config_path = value;
        return;
    }
    out.log = parse_log_target(value);
    if (!out.log) {
        throw usage_error{"--log-target takes auto, journal or stderr, not \"" +
                          std::string{value} + "\""};
    }
}

} // namespace

command_line parse_command_line(std::span<char const* const> args)
{
    command_line out;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view const arg{args[i]};
        if (auto const action = action_of(arg)) {
            out.what = *action;
            continue;
        }
        auto const option = value_option_of(arg);
        if (!option)
            throw usage_error{"unknown argument \"" + std::string{arg} + "\""};
        if (auto const equals = arg.find('='); equals != std::string_view::npos) {
            apply_value(*option, arg.substr(equals + 1), out);
            continue;
        }
        if (i + 1 >= args.size())
            throw usage_error{std::string{*option} + " needs a value"};
        apply_value(*option, args[++i], out);
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
