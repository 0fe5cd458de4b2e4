#include "hello_async/request_path.hpp"

#include <algorithm>
#include <array>

namespace hello_async {
namespace {

constexpr std::array<char, 16> hex_digits{'0', '1', '2', '3', '4', '5', '6', '7',
                                          '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};

/// Whether a log line shows this byte as \xHH rather than as itself.
bool escaped_in_log(char c)
{
    auto const u = static_cast<unsigned char>(c);
    return u < 0x20 || u >= 0x7f || c == '\\';
}

int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/// RFC 9112 §3.2.2: the absolute form carries scheme and authority, which routing ignores.
std::optional<std::string_view> strip_absolute_form(std::string_view target)
{
    for (std::string_view scheme : {"http://", "https://"}) {
        if (target.size() < scheme.size())
            continue;
        bool same = true;
        for (std::size_t i = 0; i < scheme.size() && same; ++i) {
            auto c = target[i];
            if (c >= 'A' && c <= 'Z')
                c = static_cast<char>(c - 'A' + 'a');
            same = c == scheme[i];
        }
        if (!same)
            continue;
        auto const rest = target.substr(scheme.size());
        auto const slash = rest.find_first_of("/?");
        if (slash == 0)
            return std::nullopt; // empty authority
        if (slash == std::string_view::npos)
            return std::string_view{"/"};
        if (rest[slash] == '?')
            return std::string_view{"/"};
        return rest.substr(slash);
    }
    return std::nullopt;
}

} // namespace

normalized_target normalize_target(std::string_view target)
{
    normalized_target out;
    if (target.empty() || target.front() != '/') {
        auto const path = strip_absolute_form(target);
        if (!path) {
            out.result = normalized_target::outcome::bad_request;
            return out;
        }
        target = *path;
    }
    if (auto const query = target.find('?'); query != std::string_view::npos)
        target = target.substr(0, query);

    std::string decoded;
    decoded.reserve(target.size());
    for (std::size_t i = 0; i < target.size(); ++i) {
        char const c = target[i];
        if (c == '#') {
            out.result = normalized_target::outcome::bad_request;
            return out;
        }
        if (c != '%') {
            decoded.push_back(c);
            continue;
        }
        if (i + 2 >= target.size()) {
            out.result = normalized_target::outcome::bad_request;
            return out;
        }
        int const hi = hex_value(target[i + 1]);
        int const lo = hex_value(target[i + 2]);
        if (hi < 0 || lo < 0) {
            out.result = normalized_target::outcome::bad_request;
            return out;
        }
        char const byte = static_cast<char>(hi * 16 + lo);
        if (byte == '\0') {
            out.result = normalized_target::outcome::nul_byte;
            return out;
        }
        decoded.push_back(byte);
        i += 2;
    }

    // Segment by segment, so "%2e%2e" (decoded above) and "a//b" are treated alike.
    std::string& path = out.path;
    path.reserve(decoded.size());
    std::size_t pos = 1; // decoded[0] == '/'
    bool trailing_slash = false;
    while (pos <= decoded.size()) {
        auto const end = std::min(decoded.find('/', pos), decoded.size());
        std::string_view const segment{decoded.data() + pos, end - pos};
        bool const last = end == decoded.size();
        if (segment.empty() || segment == ".") {
            trailing_slash = last;
        } else if (segment == "..") {
            if (auto const cut = path.rfind('/'); cut != std::string::npos)
                path.resize(cut);
            trailing_slash = last;
        } else {
            path.push_back('/');
            path.append(segment);
            trailing_slash = false;
        }
        pos = end + 1;
    }
    if (path.empty() || trailing_slash)
        path.push_back('/');
    return out;
}

std::string encode_path(std::string_view path)
{
    std::string out;
    out.reserve(path.size());
    for (char const c : path) {
        auto const u = static_cast<unsigned char>(c);
        // RFC 3986 §3.3 pchar plus '/': unreserved, sub-delims, ':' and '@' stay as they are.
        bool const plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') ||
                           std::string_view{"-._~!$&'()*+,;=:@/"}.find(c) != std::string_view::npos;
        if (plain) {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(hex_digits[u >> 4U]);
            out.push_back(hex_digits[u & 0xfU]);
        }
    }
    return out;
}

std::string escape_for_log(std::string_view text)
{
    auto const& digits = hex_digits;
    std::string out;
    out.reserve(text.size());
    for (char const c : text) {
        if (escaped_in_log(c)) {
            auto const u = static_cast<unsigned char>(c);
            out += "\\x";
            out.push_back(digits[u >> 4U]);
            out.push_back(digits[u & 0xfU]);
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::string_view loggable(std::string_view text, std::string& storage)
{
    if (std::none_of(text.begin(), text.end(), escaped_in_log))
        return text;
    storage = escape_for_log(text);
    return storage;
}

} // namespace hello_async
