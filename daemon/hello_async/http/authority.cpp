#include "hello_async/http/authority.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>

namespace hello_async {
namespace {

constexpr std::size_t label_max = 63;
constexpr std::size_t name_max = 253;

bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_label_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '_';
}

/// RFC 3986 unreserved / sub-delims / ":", the characters IPvFuture allows after its dot.
bool is_future_char(char c)
{
    constexpr std::string_view others{"-._~!$&'()*+,;=:"};
    return is_alpha(c) || is_digit(c) || others.find(c) != std::string_view::npos;
}

/// "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
bool is_ip_future(std::string_view text)
{
    if (text.size() < 4 || (text[0] != 'v' && text[0] != 'V'))
        return false;
    auto const dot = text.find('.');
    if (dot == std::string_view::npos || dot < 2 || dot + 1 == text.size())
        return false;
    auto const version = text.substr(1, dot - 1);
    auto const rest = text.substr(dot + 1);
    return std::all_of(version.begin(), version.end(), is_hex) &&
           std::all_of(rest.begin(), rest.end(), is_future_char);
}

bool is_ipv6(std::string_view text)
{
    // inet_pton takes no zone ID and no brackets, which is what RFC 3986's IPv6address is.
    constexpr std::size_t longest = 45; // "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
    if (text.empty() || text.size() > longest)
        return false;
    std::array<char, longest + 1> copy{};
    std::copy(text.begin(), text.end(), copy.begin());
    std::array<unsigned char, 16> address{};
    return ::inet_pton(AF_INET6, copy.data(), address.data()) == 1;
}

/// Dot-separated labels; a dotted IPv4 address is such a name too. One pass: every request
/// with a Host field comes through here.
bool is_name(std::string_view name)
{
    if (name.empty() || name.size() > name_max)
        return false;
    std::size_t label = 0;
    for (char const c : name) {
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (!is_label_char(c) || ++label > label_max) {
            return false;
        }
    }
    return label > 0;
}

std::optional<std::uint16_t> parse_port(std::string_view text)
{
    if (text.empty())
        return std::uint16_t{0};
    if (text.size() > 5)
        return std::nullopt;
    unsigned value = 0;
    for (char const c : text) {
        if (!is_digit(c))
            return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

std::string lower_case(std::string_view text)
{
    std::string out{text};
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return out;
}

} // namespace

std::optional<authority> parse_authority(std::string_view text)
{
    std::string_view host;
    std::string_view port_text;
    if (text.starts_with('[')) {
        auto const close = text.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        auto const literal = text.substr(1, close - 1);
        if (!is_ipv6(literal) && !is_ip_future(literal))
            return std::nullopt;
        host = text.substr(0, close + 1);
        auto const after = text.substr(close + 1);
        if (!after.empty() && after.front() != ':')
            return std::nullopt;
        port_text = after.empty() ? after : after.substr(1);
    } else {
        auto const colon = text.find(':');
        host = text.substr(0, colon);
        port_text = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
        // One trailing dot names the same host (an absolute name); a lone "." is no name.
        if (host.size() > 1 && host.ends_with('.'))
            host.remove_suffix(1);
        if (!is_name(host))
            return std::nullopt;
    }
    auto const port = parse_port(port_text);
    if (!port)
        return std::nullopt;
    return authority{lower_case(host), *port};
}

} // namespace hello_async
