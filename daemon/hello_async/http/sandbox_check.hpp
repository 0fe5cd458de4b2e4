#pragma once

#include "hello_async/http/config.hpp"

#include <array>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hello_async {

/// Where the service's sandbox hides the file system from it: ProtectHome=yes hides the first
/// three, PrivateTmp=yes gives it empty ones of the last two.
constexpr std::array<std::string_view, 5> sandbox_hidden_dirs{"/home", "/root", "/run/user", "/tmp",
                                                              "/var/tmp"};

/// Why the service, running as a dynamic user (DynamicUser=yes, so neither owner nor group of
/// anything) inside its sandbox, could not read `path`: a directory on the way without the
/// search bit for others, the file without the read bit (a directory: read and search), or a
/// place below one of `hidden`. Empty when it can, or when `path` does not exist (loading the
/// config reports that).
[[nodiscard]] std::string
sandbox_unreadable_reason(std::filesystem::path const& path,
                          std::span<std::string_view const> hidden = sandbox_hidden_dirs);

/// One warning per file or directory the config names that the service could not read, each
/// "WHAT PATH: reason": for --check-config run as root, whom the permissions do not stop.
/// Certificates given as credentials are left out: systemd reads those for the service.
[[nodiscard]] std::vector<std::string>
sandbox_warnings(config const& cfg, std::span<std::string_view const> hidden = sandbox_hidden_dirs);

} // namespace hello_async
