#include "hello_async/http/http_date.hpp"

#include "hello_async/http/field_text.hpp"

#include <array>
#include <charconv>

namespace hello_async {
namespace {

int month_index(std::string_view name)
{
    static constexpr std::array<std::string_view, 12> months{
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (std::size_t i = 0; i < months.size(); ++i) {
        if (months[i] == name)
            return static_cast<int>(i);
    }
    return -1;
}

bool parse_number(std::string_view text, int& out)
{
    auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size();
}

/// "HH:MM:SS"
bool parse_clock(std::string_view text, std::tm& tm)
{
    return text.size() == 8 && text[2] == ':' && text[5] == ':' &&
           parse_number(text.substr(0, 2), tm.tm_hour) &&
           parse_number(text.substr(3, 2), tm.tm_min) &&
           parse_number(text.substr(6, 2), tm.tm_sec) && tm.tm_hour < 24 && tm.tm_min < 60 &&
           tm.tm_sec < 61;
}

/// The calendar fields checked, as seconds since the epoch.
std::optional<std::time_t> checked_timegm(std::tm& tm)
{
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_mon < 0)
        return std::nullopt;
    return ::timegm(&tm);
}

} // namespace

std::string format_http_date(std::time_t when)
{
    std::tm tm{};
    ::gmtime_r(&when, &tm);
    std::array<char, 32> buf{};
    // strftime's %a and %b follow the locale; the daemon never calls setlocale, so they are C's.
    auto const n = std::strftime(buf.data(), buf.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string{buf.data(), n};
}

std::string_view current_http_date()
{
    thread_local std::time_t cached_second = -1;
    thread_local std::string cached;
    auto const now = std::time(nullptr);
    if (now != cached_second) {
        cached = format_http_date(now);
        cached_second = now;
    }
    return cached;
}

std::optional<std::time_t> parse_http_date(std::string_view text)
{
    std::tm tm{};
    text = trim_ows(text);
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    if (text.size() == 29 && text[3] == ',' && text.substr(25) == " GMT") {
        tm.tm_mon = month_index(text.substr(8, 3));
        if (text[4] != ' ' || text[7] != ' ' || text[11] != ' ' || text[16] != ' ' ||
            !parse_number(text.substr(5, 2), tm.tm_mday) ||
            !parse_number(text.substr(12, 4), tm.tm_year) || !parse_clock(text.substr(17, 8), tm))
            return std::nullopt;
        tm.tm_year -= 1900;
        return checked_timegm(tm);
    }
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
    if (auto const comma = text.find(", "); comma != std::string_view::npos && comma > 3 &&
                                            text.size() == comma + 24 &&
                                            text.substr(comma + 20) == " GMT")
    {
        auto const d = text.substr(comma + 2);
        tm.tm_mon = month_index(d.substr(3, 3));
        if (d[2] != '-' || d[6] != '-' || d[9] != ' ' ||
            !parse_number(d.substr(0, 2), tm.tm_mday) ||
            !parse_number(d.substr(7, 2), tm.tm_year) || !parse_clock(d.substr(10, 8), tm))
            return std::nullopt;
        // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the past century.
        if (tm.tm_year < 70)
            tm.tm_year += 100;
        return checked_timegm(tm);
    }
    // asctime: "Sun Nov  6 08:49:37 1994"
    if (text.size() == 24 && text[3] == ' ' && text[7] == ' ' && text[10] == ' ' && text[19] == ' ')
    {
        tm.tm_mon = month_index(text.substr(4, 3));
        auto day = text.substr(8, 2);
        if (day.front() == ' ')
            day.remove_prefix(1);
        if (!parse_number(day, tm.tm_mday) || !parse_clock(text.substr(11, 8), tm) ||
            !parse_number(text.substr(20, 4), tm.tm_year))
            return std::nullopt;
        tm.tm_year -= 1900;
        return checked_timegm(tm);
    }
    return std::nullopt;
}

} // namespace hello_async
