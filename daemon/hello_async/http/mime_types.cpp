#include "hello_async/http/mime_types.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace hello_async {
namespace {

using entry = std::pair<std::string_view, std::string_view>;

// Sorted by extension for binary search; text types carry a charset so browsers need not sniff.
constexpr std::array mime_table{
    entry{"avif", "image/avif"},
    entry{"bmp", "image/bmp"},
    entry{"css", "text/css; charset=utf-8"},
    entry{"csv", "text/csv; charset=utf-8"},
    entry{"gif", "image/gif"},
    entry{"gz", "application/gzip"},
    entry{"htm", "text/html; charset=utf-8"},
    entry{"html", "text/html; charset=utf-8"},
    entry{"ico", "image/x-icon"},
    entry{"jpeg", "image/jpeg"},
    entry{"jpg", "image/jpeg"},
    entry{"js", "text/javascript; charset=utf-8"},
    entry{"json", "application/json"},
    entry{"map", "application/json"},
    entry{"md", "text/markdown; charset=utf-8"},
    entry{"mjs", "text/javascript; charset=utf-8"},
    entry{"mp3", "audio/mpeg"},
    entry{"mp4", "video/mp4"},
    entry{"oga", "audio/ogg"},
    entry{"ogg", "audio/ogg"},
    entry{"ogv", "video/ogg"},
    entry{"otf", "font/otf"},
    entry{"pdf", "application/pdf"},
    entry{"png", "image/png"},
    entry{"svg", "image/svg+xml"},
    entry{"tar", "application/x-tar"},
    entry{"ttf", "font/ttf"},
    entry{"txt", "text/plain; charset=utf-8"},
    entry{"wasm", "application/wasm"},
    entry{"wav", "audio/wav"},
    entry{"webm", "video/webm"},
    entry{"webmanifest", "application/manifest+json"},
    entry{"webp", "image/webp"},
    entry{"woff", "font/woff"},
    entry{"woff2", "font/woff2"},
    entry{"xml", "application/xml"},
    entry{"zip", "application/zip"},
};

static_assert(std::is_sorted(mime_table.begin(), mime_table.end()));

} // namespace

std::string_view mime_type_for(std::string_view file_name)
{
    constexpr std::string_view fallback{"application/octet-stream"};
    auto const slash = file_name.rfind('/');
    auto const base = slash == std::string_view::npos ? file_name : file_name.substr(slash + 1);
    auto const dot = base.rfind('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == base.size())
        return fallback;
    auto const ext = base.substr(dot + 1);
    std::array<char, 16> lower{};
    if (ext.size() > lower.size())
        return fallback;
    std::transform(ext.begin(), ext.end(), lower.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    std::string_view const key{lower.data(), ext.size()};
    const auto* const it =
        std::lower_bound(mime_table.begin(), mime_table.end(), key,
                         [](entry const& e, std::string_view k) { return e.first < k; });
    return (it != mime_table.end() && it->first == key) ? it->second : fallback;
}

} // namespace hello_async
