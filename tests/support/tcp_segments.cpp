// Apart from the other support files: glibc's <netinet/tcp.h>, which Asio includes, has a
// struct tcp_info without the segment counts, and the two headers cannot be mixed.
#include "support/tcp_segments.hpp"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace hello_async::testing {

std::optional<segments_received> segments_received_by(int socket)
{
    tcp_info info{};
    socklen_t length = sizeof info;
    if (::getsockopt(socket, IPPROTO_TCP, TCP_INFO, &info, &length) != 0 ||
        length < offsetof(tcp_info, tcpi_data_segs_in) + sizeof info.tcpi_data_segs_in)
        return std::nullopt;
    return segments_received{info.tcpi_segs_in, info.tcpi_data_segs_in};
}

} // namespace hello_async::testing
