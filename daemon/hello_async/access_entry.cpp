#include "hello_async/access_entry.hpp"

#include "hello_async/request_path.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <syslog.h>

namespace hello_async {
namespace {

bool printable(char c)
{
    auto const u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f && c != '\\';
}

void append_number(std::string& out, std::uint64_t value)
{
    std::array<char, 20> digits{};
    auto const end = std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr;
    out.append(digits.data(), end);
}

void append_for_log(std::string& out, std::string_view text)
{
    std::string storage;
    out.append(loggable(text, storage));
}

} // namespace

std::string_view loggable(std::string_view text, std::string& storage)
{
    if (std::all_of(text.begin(), text.end(), printable))
        return text;
    storage = escape_for_log(text);
    return storage;
}

void format_access_entry(std::string& out, access_entry const& entry)
{
    if (entry.method.empty()) {
        out.push_back('"');
        append_for_log(out, entry.raw_line.empty() ? std::string_view{"-"} : entry.raw_line);
        out.push_back('"');
    } else {
        append_for_log(out, entry.method);
        out.push_back(' ');
        append_for_log(out, entry.target);
        out.append(" HTTP/");
        out.push_back(static_cast<char>('0' + entry.version / 10 % 10));
        out.push_back('.');
        out.push_back(static_cast<char>('0' + entry.version % 10));
    }
    out.push_back(' ');
    append_number(out, entry.status);
    out.push_back(' ');
    append_number(out, entry.bytes);
    out.push_back(' ');
    auto const usec = static_cast<std::uint64_t>(std::max<std::int64_t>(entry.duration.count(), 0));
    append_number(out, usec / 1000);
    auto const fraction = usec % 1000;
    out.push_back('.');
    out.push_back(static_cast<char>('0' + fraction / 100));
    out.push_back(static_cast<char>('0' + fraction / 10 % 10));
    out.push_back(static_cast<char>('0' + fraction % 10));
    out.append("ms ");
    out.append(entry.peer.empty() ? std::string_view{"-"} : entry.peer);
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
