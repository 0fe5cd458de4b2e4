#include "hello_async/server/read_landing.hpp"

#include <array>
#include <memory>
#include <new>

namespace hello_async {

std::span<char> thread_read_landing() noexcept
{
    using landing_bytes = std::array<char, read_landing_bytes>;
    thread_local std::unique_ptr<landing_bytes> landing;
    if (!landing) {
        try {
            landing = std::make_unique_for_overwrite<landing_bytes>();
        } catch (std::bad_alloc const&) {
            return {};
        }
    }
    return *landing;
}

} // namespace hello_async
