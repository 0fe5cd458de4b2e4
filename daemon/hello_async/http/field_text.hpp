#pragma once

#include <algorithm>
#include <array>
#include <string_view>

namespace hello_async {

/// Upper-case hex digits, as percent-encoding (RFC 3986 §2.1) and log escapes write them.
constexpr std::array<char, 16> hex_digits{'0', '1', '2', '3', '4', '5', '6', '7',
                                          '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};

/// A hex digit's value, -1 for any other byte.
[[nodiscard]] inline int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/// RFC 9110 §5.6.2 tchar: the bytes of a token (method, field name, coding, extension name).
[[nodiscard]] inline bool is_token_char(char c)
{
    constexpr std::string_view others{"!#$%&'*+-.^_`|~"};
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           others.find(c) != std::string_view::npos;
}

/// Drops optional whitespace (SP, HTAB) around a header field value or list element.
[[nodiscard]] inline std::string_view trim_ows(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

/// ASCII case-insensitive equality, as tokens (codings, units) compare.
[[nodiscard]] inline bool iequals_ascii(std::string_view a, std::string_view b)
{
    auto lower = [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [&](char x, char y) { return lower(x) == lower(y); });
}

/// Calls fn(element) for each element of a comma-separated list, trimmed, empty ones skipped.
template <class Fn>
void for_each_element(std::string_view list, Fn&& fn)
{
    while (!list.empty()) {
        auto const comma = list.find(',');
        auto const element = trim_ows(list.substr(0, comma));
        if (!element.empty())
            fn(element);
        if (comma == std::string_view::npos)
            break;
        list.remove_prefix(comma + 1);
    }
}

} // namespace hello_async
