#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string_view>

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
        full,          ///< no Range, an invalid one, several ranges, or If-Range failed: 200
        partial,       ///< 206 with `range`
        unsatisfiable, ///< 416
    };
    outcome result{outcome::full};
    byte_range range;
};

/// RFC 9110 §14: one range of "bytes=" is served; several ranges get the whole representation
/// (a 200 is always a valid answer to a Range request); a syntactically invalid Range is ignored.
/// If-Range must match the strong ETag or equal Last-Modified exactly.
[[nodiscard]] range_request evaluate_range(std::string_view range,
                                           std::optional<std::string_view> if_range,
                                           std::string_view etag,
                                           std::time_t last_modified,
                                           std::uint64_t size);

} // namespace hello_async
