#pragma once

#include "hello_async/http/site.hpp"
#include "hello_async/server/connection_registry.hpp"
#include "hello_async/server/delay_queue.hpp"
#include "hello_async/server/tls_context.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace hello_async {

/// What all I/O threads share: the current site, counters, and the drain flag.
class server_state
{
  public:
    server_state(std::shared_ptr<site const> initial, std::size_t threads)
        : site_{std::move(initial)}
        , registries_(threads)
        , delay_queues_(threads)
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

    /// The certificates new TLS connections use; null when the server has no TLS socket.
    [[nodiscard]] std::shared_ptr<tls_context const> current_tls() const { return tls_.load(); }
    void replace_tls(std::shared_ptr<tls_context const> next) { tls_.store(std::move(next)); }

    [[nodiscard]] connection_registry& registry(std::size_t thread) { return registries_[thread]; }
    [[nodiscard]] delay_queue& delays(std::size_t thread) { return delay_queues_[thread]; }

    std::atomic<bool> draining{false};
    std::atomic<std::size_t> open_connections{0};
    std::atomic<std::uint64_t> requests_served{0};
    /// When the last open connection closed (steady_clock ticks), or the server started: what
    /// server.idle_exit counts from. Written only when the count of open connections drops to 0.
    std::atomic<std::chrono::steady_clock::rep> all_closed_at{
        std::chrono::steady_clock::now().time_since_epoch().count()};
    /// Where HTTPS is served (the first TLS socket's port), for redirects; 0 when nowhere.
    std::uint16_t https_port{0};

  private:
    std::atomic<std::shared_ptr<site const>> site_;
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<std::shared_ptr<tls_context const>> tls_;
    std::vector<connection_registry> registries_;
    std::vector<delay_queue> delay_queues_;
};

} // namespace hello_async
