#include "hello_async/http/ranges.hpp"

#include "hello_async/http/field_text.hpp"
#include "hello_async/http/http_date.hpp"

#include <algorithm>
#include <charconv>

namespace hello_async {
namespace {

bool parse_uint64(std::string_view text, std::uint64_t& out)
{
    if (text.empty() ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
    auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size();
}

/// If-Range (RFC 9110 §13.1.5): the range applies only to the representation the client has,
/// named by a strong ETag or exactly its Last-Modified date.
bool if_range_allows(std::optional<std::string_view> if_range,
                     std::string_view etag,
                     std::time_t last_modified)
{
    if (!if_range)
        return true;
    auto const validator = trim_ows(*if_range);
    if (validator.starts_with('"'))
        return validator == etag; // strong comparison only
    auto const date = parse_http_date(validator);
    return date && *date == last_modified;
}

/// One range-spec ("0-99", "100-", "-100") against a representation of `size` bytes: the
/// range, nullopt when unsatisfiable; `valid` false when the spec is malformed.
std::optional<byte_range> evaluate_spec(std::string_view spec, std::uint64_t size, bool& valid)
{
    valid = false;
    auto const dash = spec.find('-');
    if (dash == std::string_view::npos)
        return std::nullopt;
    auto const first_text = trim_ows(spec.substr(0, dash));
    auto const last_text = trim_ows(spec.substr(dash + 1));
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    if (first_text.empty()) {
        // Suffix range: the last N bytes.
        std::uint64_t suffix = 0;
        if (!parse_uint64(last_text, suffix))
            return std::nullopt;
        valid = true;
        if (suffix == 0 || size == 0)
            return std::nullopt;
        return byte_range{suffix >= size ? 0 : size - suffix, size - 1};
    }
    if (!parse_uint64(first_text, first))
        return std::nullopt;
    if (last_text.empty()) {
        last = size == 0 ? 0 : size - 1;
    } else if (!parse_uint64(last_text, last) || last < first) {
        return std::nullopt;
    }
    valid = true;
    if (first >= size)
        return std::nullopt;
    return byte_range{first, std::min(last, size - 1)};
}

/// Ascending, with overlapping and adjacent ranges joined.
std::vector<byte_range> merged(std::vector<byte_range> ranges)
{
    std::sort(ranges.begin(), ranges.end(),
              [](byte_range a, byte_range b) { return a.first < b.first; });
    std::vector<byte_range> out;
    for (auto const r : ranges) {
        if (!out.empty() && r.first <= out.back().last + 1) {
            out.back().last = std::max(out.back().last, r.last);
        } else {
            out.push_back(r);
        }
    }
    return out;
}

} // namespace

range_request evaluate_range(std::string_view range,
                             std::optional<std::string_view> if_range,
                             std::string_view etag,
                             std::time_t last_modified,
                             std::uint64_t size,
                             std::size_t max_ranges)
{
    range = trim_ows(range);
    constexpr std::string_view unit{"bytes="};
    if (range.size() <= unit.size() || !iequals_ascii(range.substr(0, unit.size()), unit))
        return {};
    if (!if_range_allows(if_range, etag, last_modified))
        return {};
    std::size_t sent = 0;
    bool all_valid = true;
    std::vector<byte_range> satisfiable;
    for_each_element(range.substr(unit.size()), [&](std::string_view spec) {
        if (++sent > max_ranges || !all_valid)
            return;
        bool valid = false;
        if (auto const r = evaluate_spec(spec, size, valid))
            satisfiable.push_back(*r);
        all_valid = valid;
    });
    if (sent == 0 || sent > max_ranges || !all_valid)
        return {};
    if (satisfiable.empty())
        return {range_request::outcome::unsatisfiable, {}};
    return {range_request::outcome::partial, merged(std::move(satisfiable))};
}

} // namespace hello_async
