#pragma once

#include <cstddef>
#include <span>

namespace hello_async {

/// What one read on an I/O thread takes at most: a TLS record's worth, and more than most
/// request heads, so that one read usually takes all there is.
inline constexpr std::size_t read_landing_bytes = std::size_t{16} * 1024;

/// The calling thread's buffer for bytes read before they are handed on (to a connection's
/// buffer, to nghttp2). Every reader on the thread shares it, so each must hand its bytes on
/// before anything else of the thread runs. It is allocated at the thread's first read: a
/// thread_local array would sit in the static TLS block of every thread, the control thread and
/// spdlog's included, and be touched when the thread starts. Empty when there is no memory.
std::span<char> thread_read_landing() noexcept;

} // namespace hello_async
