#include "hello_async/http/access_entry.hpp"

#include "hello_async/http/decimal.hpp"
#include "hello_async/http/field_text.hpp"
#include "hello_async/http/string_writer.hpp"

#include <algorithm>
#include <syslog.h>

namespace hello_async {
namespace {

/// Whether a log line shows this byte as \xHH rather than as itself.
bool escaped_in_log(char c)
{
    auto const u = static_cast<unsigned char>(c);
    return u < 0x20 || u >= 0x7f || c == '\\';
}

void put_for_log(string_writer& writer, std::string_view text)
{
    std::string storage;
    writer.put(loggable(text, storage));
}

} // namespace

std::uint64_t duration_usec(access_entry const& entry)
{
    return static_cast<std::uint64_t>(std::max<std::int64_t>(entry.duration.count(), 0));
}

std::string_view version_text(unsigned version)
{
    if (version == http2_version)
        return "2";
    // "0.9" to "9.9": whatever a request line said, refused versions included.
    static constexpr std::array<char, 400> digits = [] {
        std::array<char, 400> out{};
        for (std::size_t v = 0; v < 100; ++v) {
            out.at(v * 4) = static_cast<char>('0' + v / 10);
            out.at(v * 4 + 1) = '.';
            out.at(v * 4 + 2) = static_cast<char>('0' + v % 10);
        }
        return out;
    }();
    return {digits.data() + std::size_t{version % 100} * 4, 3};
}

void format_access_entry(std::string& out, access_entry const& entry)
{
    // Method, target and peer, plus room for the numbers and separators: more only if the
    // request line needs escaping.
    constexpr std::size_t numbers_and_separators = 80;
    string_writer writer{out, entry.raw_line.size() + entry.method.size() + entry.target.size() +
                                  entry.peer.size() + numbers_and_separators};
    if (entry.method.empty()) {
        writer.put('"');
        put_for_log(writer, entry.raw_line.empty() ? std::string_view{"-"} : entry.raw_line);
        writer.put('"');
    } else {
        put_for_log(writer, entry.method);
        writer.put(' ');
        put_for_log(writer, entry.target);
        writer.put(" HTTP/");
        writer.put(version_text(entry.version));
    }
    writer.put(' ');
    writer.put(decimal{entry.status}.text());
    writer.put(' ');
    writer.put(decimal{entry.bytes}.text());
    writer.put(' ');
    auto const usec = duration_usec(entry);
    writer.put(decimal{usec / 1000}.text());
    auto const fraction = usec % 1000;
    writer.put('.');
    writer.put(static_cast<char>('0' + fraction / 100));
    writer.put(static_cast<char>('0' + fraction / 10 % 10));
    writer.put(static_cast<char>('0' + fraction % 10));
    writer.put("ms ");
    writer.put(entry.peer.empty() ? std::string_view{"-"} : entry.peer);
}

int syslog_priority_for_status(unsigned status)
{
    if (status >= 500)
        return LOG_ERR;
    if (status >= 400)
        return LOG_NOTICE;
    return LOG_INFO;
}

std::string escape_for_log(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (char const c : text) {
        if (escaped_in_log(c)) {
            auto const u = static_cast<unsigned char>(c);
            out += "\\x";
            out.push_back(hex_digits[u >> 4U]);
            out.push_back(hex_digits[u & 0xfU]);
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
