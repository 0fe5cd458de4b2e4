#include "hello_async/conditional.hpp"

#include "hello_async/field_text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace hello_async {
namespace {

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

/// Strong comparison (RFC 9110 §8.8.3.2): weak tags never match.
bool strong_match(std::string_view list, std::string_view etag)
{
    bool found = false;
    for_each_element(list,
                     [&](std::string_view tag) { found = found || tag == "*" || tag == etag; });
    return found;
}

/// Weak comparison: W/ prefixes are ignored on both sides.
bool weak_match(std::string_view list, std::string_view etag)
{
    auto strip = [](std::string_view t) { return t.starts_with("W/") ? t.substr(2) : t; };
    bool found = false;
    for_each_element(list, [&](std::string_view tag) {
        found = found || tag == "*" || strip(tag) == strip(etag);
    });
    return found;
}

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

std::optional<std::time_t> finish(std::tm& tm)
{
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_mon < 0)
        return std::nullopt;
    return ::timegm(&tm);
}

bool parse_uint64(std::string_view text, std::uint64_t& out)
{
    if (text.empty() ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
    auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size();
}

} // namespace

std::string
make_etag(ino_t inode, std::uint64_t size, struct timespec mtime, std::string_view coding)
{
    std::array<char, 96> buf{};
    auto const mtime_ns = static_cast<std::uint64_t>(mtime.tv_sec) * 1000000000ULL +
                          static_cast<std::uint64_t>(mtime.tv_nsec);
    int const n = std::snprintf(
        buf.data(), buf.size(), "\"%llx-%llx-%llx%s%.*s\"", static_cast<unsigned long long>(inode),
        static_cast<unsigned long long>(size), static_cast<unsigned long long>(mtime_ns),
        coding.empty() ? "" : "-", static_cast<int>(coding.size()), coding.data());
    return std::string{buf.data(), static_cast<std::size_t>(std::max(n, 0))};
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
        return finish(tm);
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
        return finish(tm);
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
        return finish(tm);
    }
    return std::nullopt;
}

precondition evaluate_preconditions(conditions const& c,
                                    bool get_or_head,
                                    std::string_view etag,
                                    std::time_t last_modified)
{
    if (c.if_match) {
        if (!strong_match(*c.if_match, etag))
            return precondition::failed;
    } else if (c.if_unmodified_since) {
        if (auto const date = parse_http_date(*c.if_unmodified_since);
            date && last_modified > *date)
            return precondition::failed;
    }
    if (c.if_none_match) {
        if (weak_match(*c.if_none_match, etag))
            return get_or_head ? precondition::not_modified : precondition::failed;
    } else if (c.if_modified_since && get_or_head) {
        if (auto const date = parse_http_date(*c.if_modified_since); date && last_modified <= *date)
            return precondition::not_modified;
    }
    return precondition::proceed;
}

range_request evaluate_range(std::string_view range,
                             std::optional<std::string_view> if_range,
                             std::string_view etag,
                             std::time_t last_modified,
                             std::uint64_t size)
{
    range_request out;
    range = trim_ows(range);
    constexpr std::string_view unit{"bytes="};
    if (range.size() <= unit.size() || !iequals_ascii(range.substr(0, unit.size()), unit))
        return out;
    if (if_range) {
        auto const validator = trim_ows(*if_range);
        bool matches = false;
        if (validator.starts_with('"'))
            matches = validator == etag; // strong comparison only
        else if (auto const date = parse_http_date(validator))
            matches = *date == last_modified;
        if (!matches)
            return out;
    }
    auto const spec = range.substr(unit.size());
    if (spec.find(',') != std::string_view::npos)
        return out; // several ranges: the whole file (documented in the config)
    auto const dash = spec.find('-');
    if (dash == std::string_view::npos)
        return out;
    auto const first_text = trim_ows(spec.substr(0, dash));
    auto const last_text = trim_ows(spec.substr(dash + 1));
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    if (first_text.empty()) {
        // Suffix range: the last N bytes.
        std::uint64_t suffix = 0;
        if (!parse_uint64(last_text, suffix))
            return out;
        if (suffix == 0 || size == 0) {
            out.result = range_request::outcome::unsatisfiable;
            return out;
        }
        first = suffix >= size ? 0 : size - suffix;
        last = size - 1;
    } else {
        if (!parse_uint64(first_text, first))
            return out;
        if (last_text.empty()) {
            last = size == 0 ? 0 : size - 1;
        } else if (!parse_uint64(last_text, last) || last < first) {
            return out; // invalid: ignored
        }
        if (first >= size) {
            out.result = range_request::outcome::unsatisfiable;
            return out;
        }
        last = std::min(last, size - 1);
    }
    out.result = range_request::outcome::partial;
    out.range = {first, last};
    return out;
}

accepted_codings parse_accept_encoding(std::optional<std::string_view> field)
{
    accepted_codings out;
    if (!field)
        return out;
    std::optional<bool> br;
    std::optional<bool> gzip;
    bool star = false;
    for_each_element(*field, [&](std::string_view element) {
        auto const semi = element.find(';');
        auto const coding = trim_ows(element.substr(0, semi));
        bool accepted = true;
        if (semi != std::string_view::npos) {
            auto params = trim_ows(element.substr(semi + 1));
            if (params.size() >= 2 && (params[0] == 'q' || params[0] == 'Q') && params[1] == '=') {
                auto const q = trim_ows(params.substr(2));
                // q=0, q=0.0, q=0.000 refuse; any other digit makes it acceptable.
                accepted =
                    std::any_of(q.begin(), q.end(), [](char c) { return c >= '1' && c <= '9'; });
            }
        }
        if (iequals_ascii(coding, "br"))
            br = accepted;
        else if (iequals_ascii(coding, "gzip") || iequals_ascii(coding, "x-gzip"))
            gzip = accepted;
        else if (coding == "*")
            star = accepted;
    });
    out.br = br.value_or(star);
    out.gzip = gzip.value_or(star);
    return out;
}

} // namespace hello_async
