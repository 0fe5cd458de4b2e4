#pragma once

#include "hello_async/http/config.hpp"

#include <filesystem>
#include <optional>
#include <span>
#include <string>

namespace hello_async {

/// The config file the packaged daemon reads when no --config is given.
inline constexpr char const* default_config_path = "/etc/hello-async/hello-async.toml";

/// What the command line asks for.
struct command_line
{
    enum class action
    {
        serve,
        check_config,
        version,
        help,
    };
    action what{action::serve};
    std::filesystem::path config_path{default_config_path};
    std::optional<log_target> log; ///< overrides server.log_target
};

/// A command line that cannot be obeyed; what() says why.
class usage_error : public std::runtime_error
{
  public:
    using std::runtime_error::runtime_error;
};

/// Parses argv (without argv[0]); throws usage_error.
[[nodiscard]] command_line parse_command_line(std::span<char const* const> args);

/// The --help text.
[[nodiscard]] std::string usage_text();

/// The --version text.
[[nodiscard]] std::string version_text();

} // namespace hello_async
