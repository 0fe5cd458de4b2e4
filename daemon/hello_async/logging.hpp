#pragma once

#include "hello_async/config.hpp"

#include <spdlog/logger.h>

#include <memory>

namespace hello_async {

/// Sets up the daemon's loggers once, in one place: messages through spdlog's default logger,
/// request lines through access_log(). Both sit behind one async queue so that a slow sink (a
/// busy terminal, a rate-limiting journal) never stalls an I/O thread; when the queue is full
/// the oldest queued entries are dropped and counted (dropped_log_entries()).
void init_logging(log_target target);

/// The request logger; never null after init_logging().
[[nodiscard]] spdlog::logger& access_log();

/// Entries dropped so far because the queue was full.
[[nodiscard]] std::size_t dropped_log_entries();

/// True when stderr is a stream to journald (JOURNAL_STREAM names stderr's device and inode).
[[nodiscard]] bool stderr_is_journal();

/// Writes out everything queued; call before exit.
void shutdown_logging();

} // namespace hello_async
