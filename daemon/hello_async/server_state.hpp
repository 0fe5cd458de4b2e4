#pragma once

#include "hello_async/site.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_set>

namespace hello_async {

/// One client connection, as the per-thread registry sees it.
struct connection
{
    explicit connection(boost::asio::ip::tcp::socket s)
        : socket{std::move(s)}
    {}

    boost::asio::ip::tcp::socket socket;
    /// The watchdog closes the socket once this passes; every read and write moves it.
    std::chrono::steady_clock::time_point deadline{std::chrono::steady_clock::time_point::max()};
    /// Between requests: a drain may close the connection without losing a request.
    bool idle{true};
};

/// The connections of one I/O thread. Touched only from that thread, so it needs no lock.
using connection_registry = std::unordered_set<connection*>;

/// What all I/O threads share: the current site, counters, and the drain flag.
class server_state
{
  public:
    server_state(std::shared_ptr<site const> initial, std::size_t threads)
        : site_{std::move(initial)}
        , registries_(threads)
    {}

    /// The site new requests should use. The generation lets a session skip the atomic load of
    /// the shared_ptr on every request.
    [[nodiscard]] std::shared_ptr<site const> current_site() const { return site_.load(); }
    [[nodiscard]] std::uint64_t site_generation() const
    {
        return generation_.load(std::memory_order_acquire);
    }
    void replace_site(std::shared_ptr<site const> next)
    {
        site_.store(std::move(next));
        generation_.fetch_add(1, std::memory_order_release);
    }

    [[nodiscard]] connection_registry& registry(std::size_t thread) { return registries_[thread]; }

    std::atomic<bool> draining{false};
    std::atomic<std::size_t> open_connections{0};
    std::atomic<std::uint64_t> requests_served{0};

  private:
    std::atomic<std::shared_ptr<site const>> site_;
    std::atomic<std::uint64_t> generation_{0};
    std::vector<connection_registry> registries_;
};

} // namespace hello_async
