#include "hello_async/http/request_path.hpp"

#include "hello_async/http/field_text.hpp"

#include <algorithm>
#include <array>

namespace hello_async {
namespace {

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

/// %-decodes a path (RFC 3986 §2.1); the decoded bytes land in `out.path`.
normalized_target percent_decode(std::string_view path)
{
    normalized_target out;
    std::string& decoded = out.path;
    decoded.reserve(path.size());
    for (std::size_t i = 0; i < path.size(); ++i) {
        char const c = path[i];
        if (c == '#') {
            out.result = normalized_target::outcome::bad_request;
            return out;
        }
        if (c != '%') {
            decoded.push_back(c);
            continue;
        }
        int const hi = i + 2 < path.size() ? hex_value(path[i + 1]) : -1;
        int const lo = i + 2 < path.size() ? hex_value(path[i + 2]) : -1;
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
    return out;
}

/// Removes dot segments and merges repeated slashes, segment by segment, so "%2e%2e" (already
/// decoded) and "a//b" are treated alike; `decoded` starts with '/'.
std::string remove_dot_segments(std::string_view decoded)
{
    std::string path;
    path.reserve(decoded.size());
    std::size_t pos = 1;
    bool trailing_slash = false;
    while (pos <= decoded.size()) {
        auto const end = std::min(decoded.find('/', pos), decoded.size());
        auto const segment = decoded.substr(pos, end - pos);
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
    return path;
}

} // namespace

normalized_target normalize_target(std::string_view target)
{
    if (target.empty() || target.front() != '/') {
        auto const path = strip_absolute_form(target);
        if (!path)
            return {normalized_target::outcome::bad_request, {}};
        target = *path;
    }
    std::string_view query;
    if (auto const mark = target.find('?'); mark != std::string_view::npos) {
        query = target.substr(mark + 1);
        target = target.substr(0, mark);
    }
    auto decoded = percent_decode(target);
    decoded.query = query;
    if (decoded.result == normalized_target::outcome::ok)
        decoded.path = remove_dot_segments(decoded.path);
    return decoded;
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

} // namespace hello_async
