#include "hello_async/access_entry.hpp"

#include "hello_async/decimal.hpp"
#include "hello_async/request_path.hpp"

#include <algorithm>
#include <syslog.h>

namespace hello_async {
namespace {

bool printable(char c)
{
    auto const u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f && c != '\\';
}

void append_for_log(std::string& out, std::string_view text)
{
    std::string storage;
    out.append(loggable(text, storage));
}

} // namespace

std::uint64_t duration_usec(access_entry const& entry)
{
    return static_cast<std::uint64_t>(std::max<std::int64_t>(entry.duration.count(), 0));
}

std::array<char, 3> version_text(unsigned version)
{
    return {static_cast<char>('0' + version / 10 % 10), '.', static_cast<char>('0' + version % 10)};
}

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
        auto const version = version_text(entry.version);
        out.append(version.data(), version.size());
    }
    out.push_back(' ');
    out.append(decimal{entry.status}.text());
    out.push_back(' ');
    out.append(decimal{entry.bytes}.text());
    out.push_back(' ');
    auto const usec = duration_usec(entry);
    out.append(decimal{usec / 1000}.text());
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
