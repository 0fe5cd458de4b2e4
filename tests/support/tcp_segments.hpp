#pragma once

#include <cstdint>
#include <optional>

namespace hello_async::testing {

/// Segments a TCP socket has received so far, as its kernel counts them (tcp_info).
struct segments_received
{
    std::uint32_t all{0};
    std::uint32_t carrying_data{0}; ///< the others: the handshake's, bare ACKs, a FIN alone
};

/// nullopt when the kernel does not tell.
[[nodiscard]] std::optional<segments_received> segments_received_by(int socket);

} // namespace hello_async::testing
