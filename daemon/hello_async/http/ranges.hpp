#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string_view>
#include <vector>

namespace hello_async {

/// A satisfiable byte range, both ends inclusive.
struct byte_range
{
    std::uint64_t first{0};
    std::uint64_t last{0};
    [[nodiscard]] std::uint64_t length() const { return last - first + 1; }
};

/// What a Range header field asks of a representation of `size` bytes.
struct range_request
{
    enum class outcome
    {
        full,          ///< no Range, an invalid one, too many ranges, or If-Range failed: 200
        partial,       ///< 206 with `ranges`
        unsatisfiable, ///< 416
    };
    outcome result{outcome::full};
    std::vector<byte_range> ranges; ///< partial: ascending, none overlapping or adjacent
};

/// RFC 9110 §14 for "bytes=" ranges. A syntactically invalid Range is ignored, and so is one
/// of more than `max_ranges` ranges as sent (nginx's max_ranges): the whole representation is
/// always a valid answer. Otherwise unsatisfiable ranges are dropped (none left: 416), and
/// overlapping or adjacent ones merged (§14.2 allows it). If-Range must match the strong ETag
/// or equal Last-Modified exactly.
[[nodiscard]] range_request evaluate_range(std::string_view range,
                                           std::optional<std::string_view> if_range,
                                           std::string_view etag,
                                           std::time_t last_modified,
                                           std::uint64_t size,
                                           std::size_t max_ranges);

} // namespace hello_async
