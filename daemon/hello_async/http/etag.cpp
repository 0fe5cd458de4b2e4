#include "hello_async/http/etag.hpp"

#include "hello_async/http/field_text.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

namespace hello_async {

std::string
make_etag(ino_t inode, std::uint64_t size, struct timespec mtime, std::string_view coding)
{
    std::array<char, 96> buf{};
    auto const mtime_ns = static_cast<std::uint64_t>(mtime.tv_sec) * 1000000000ULL +
                          static_cast<std::uint64_t>(mtime.tv_nsec);
    int const n = std::snprintf(
        buf.data(), buf.size(), "\"%llx-%llx-%llx%s%.*s\"", static_cast<unsigned long long>(inode),
        static_cast<unsigned long long>(size), static_cast<unsigned long long>(mtime_ns),
        coding.empty() ? "" : "-", static_cast<int>(coding.size()), coding.data());
    return std::string{buf.data(), static_cast<std::size_t>(std::max(n, 0))};
}

bool strong_match(std::string_view list, std::string_view etag)
{
    bool found = false;
    for_each_element(list,
                     [&](std::string_view tag) { found = found || tag == "*" || tag == etag; });
    return found;
}

bool weak_match(std::string_view list, std::string_view etag)
{
    auto strip = [](std::string_view t) { return t.starts_with("W/") ? t.substr(2) : t; };
    bool found = false;
    for_each_element(list, [&](std::string_view tag) {
        found = found || tag == "*" || strip(tag) == strip(etag);
    });
    return found;
}

} // namespace hello_async
