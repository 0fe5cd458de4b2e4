#pragma once

#include "hello_async/config.hpp"

#include <spdlog/logger.h>

#include <memory>

namespace hello_async {

/// Sets up the daemon's loggers once, in one place: messages through spdlog's default logger,
/// request lines through access_log(). To the journal (spdlog's systemd sink for messages, one
/// entry with HTTP_* fields per request) or to stderr, as `target` and JOURNAL_STREAM say.
///
/// Both loggers sit behind one async queue of 2048 entries written by one logging thread, so a
/// slow sink (a busy terminal, a rate-limiting or stopped journald) never stalls an I/O thread.
/// Overflow policy: when the queue is full the oldest queued entry is dropped to make room for
/// the new one; drops and entries a sink refused are counted (dropped_log_entries(), in STATUS).
void init_logging(log_target target);

/// The request logger; never null after init_logging().
[[nodiscard]] spdlog::logger& access_log();

/// Entries lost so far: dropped because the queue was full, or refused by the sink.
[[nodiscard]] std::size_t dropped_log_entries();

/// True when stderr is a stream to journald (JOURNAL_STREAM names stderr's device and inode).
[[nodiscard]] bool stderr_is_journal();

/// Writes out everything queued; call before exit.
void shutdown_logging();

} // namespace hello_async
