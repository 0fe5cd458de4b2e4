#include "hello_async/access_entry.hpp"

#include "hello_async/request_path.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <iterator>
#include <syslog.h>

namespace hello_async {
namespace {

/// Appends `text` with bytes outside printable ASCII (and the backslash) as \xHH.
void append_escaped(fmt::memory_buffer& out, std::string_view text)
{
    bool const clean = std::all_of(text.begin(), text.end(), [](char c) {
        auto const u = static_cast<unsigned char>(c);
        return u >= 0x20 && u < 0x7f && c != '\\';
    });
    if (clean) {
        out.append(text);
        return;
    }
    auto const escaped = escape_for_log(text);
    out.append(std::string_view{escaped});
}

std::string_view next_token_from_end(std::string_view& line)
{
    auto const space = line.rfind(' ');
    if (space == std::string_view::npos) {
        auto const token = line;
        line = {};
        return token;
    }
    auto const token = line.substr(space + 1);
    line = line.substr(0, space);
    return token;
}

bool all_digits(std::string_view text)
{
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

} // namespace

void format_access_entry(fmt::memory_buffer& out, access_entry const& entry)
{
    auto inserter = std::back_inserter(out);
    if (entry.method.empty()) {
        out.push_back('"');
        append_escaped(out, entry.raw_line.empty() ? std::string_view{"-"} : entry.raw_line);
        out.push_back('"');
    } else {
        append_escaped(out, entry.method);
        out.push_back(' ');
        append_escaped(out, entry.target);
        fmt::format_to(inserter, " HTTP/{}.{}", entry.version / 10, entry.version % 10);
    }
    auto const usec = entry.duration.count();
    fmt::format_to(inserter, " {} {} {}.{:03}ms {}", entry.status, entry.bytes, usec / 1000,
                   usec % 1000, entry.peer.empty() ? std::string_view{"-"} : entry.peer);
}

std::optional<access_fields> parse_access_line(std::string_view line)
{
    access_fields out;
    out.remote = next_token_from_end(line);
    auto const duration = next_token_from_end(line);
    out.bytes = next_token_from_end(line);
    out.status = next_token_from_end(line);
    if (line.empty() || !all_digits(out.status) || !all_digits(out.bytes) ||
        !duration.ends_with("ms"))
        return std::nullopt;
    auto const ms = duration.substr(0, duration.size() - 2);
    auto const dot = ms.find('.');
    if (dot == std::string_view::npos || !all_digits(ms.substr(0, dot)) || ms.size() - dot != 4 ||
        !all_digits(ms.substr(dot + 1)))
        return std::nullopt;
    std::uint64_t whole = 0;
    std::uint64_t fraction = 0;
    std::from_chars(ms.data(), ms.data() + dot, whole);
    std::from_chars(ms.data() + dot + 1, ms.data() + ms.size(), fraction);
    out.duration_usec = whole * 1000 + fraction;
    out.request_line = line;

    if (line.front() != '"') {
        auto const first = line.find(' ');
        auto const last = line.rfind(' ');
        if (first != std::string_view::npos && first != last &&
            line.substr(last + 1).starts_with("HTTP/")) {
            out.method = line.substr(0, first);
            out.target = line.substr(first + 1, last - first - 1);
            out.version = line.substr(last + 1 + 5);
        }
    }
    return out;
}

int syslog_priority_for_status(unsigned status)
{
    if (status >= 500)
        return LOG_ERR;
    if (status >= 400)
        return LOG_NOTICE;
    return LOG_INFO;
}

} // namespace hello_async
