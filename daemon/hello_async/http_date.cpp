#include "hello_async/http_date.hpp"

#include <array>

namespace hello_async {

std::string format_http_date(std::time_t when)
{
    std::tm tm{};
    ::gmtime_r(&when, &tm);
    std::array<char, 32> buf{};
    // strftime's %a and %b follow the locale; the daemon never calls setlocale, so they are C's.
    auto const n = std::strftime(buf.data(), buf.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string{buf.data(), n};
}

std::string_view current_http_date()
{
    thread_local std::time_t cached_second = -1;
    thread_local std::string cached;
    auto const now = std::time(nullptr);
    if (now != cached_second) {
        cached = format_http_date(now);
        cached_second = now;
    }
    return cached;
}

} // namespace hello_async
