#pragma once

#include "hello_async/http/unique_fd.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hello_async {

/// Listening sockets handed over by the service manager (socket activation).
struct adopted_sockets
{
    std::vector<unique_fd> listeners;     ///< the ones named `plain_name`: plain HTTP
    std::vector<unique_fd> tls_listeners; ///< the ones named `tls_name`: HTTPS
    std::vector<std::string> ignored;     ///< "fd 4 (name \"metrics\")": left alone, warned about
};

/// Adopts the sockets systemd passed (sd_listen_fds_with_names) and unsets LISTEN_*. Returns
/// nullopt when none were passed. Throws std::runtime_error naming the fd when a passed fd with
/// one of our names is not a listening TCP socket, or when none has either name.
[[nodiscard]] std::optional<adopted_sockets> adopt_listen_sockets(std::string_view plain_name,
                                                                  std::string_view tls_name);

/// sd_notify wrappers: no-ops when NOTIFY_SOCKET is unset, so the binary runs from a shell alike.
void notify_ready(std::string_view status);
void notify_status(std::string_view status);
/// STOPPING=1 with `status` as STATUS=.
void notify_stopping(std::string_view status);
void notify_reloading();
void notify_watchdog();
void notify_extend_timeout(std::chrono::microseconds extra);

/// STATUS=`why` for a daemon about to exit on failure, then waits (briefly) until the manager has
/// read it: a message from a process that has already exited may no longer be attributed to the
/// service. `systemctl status` keeps showing the last STATUS= of a failed service.
void notify_failure_status(std::string_view why);

/// The watchdog interval the manager asked for (WATCHDOG_USEC), if any.
[[nodiscard]] std::optional<std::chrono::microseconds> watchdog_interval();

} // namespace hello_async
