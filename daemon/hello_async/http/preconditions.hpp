#pragma once

#include <ctime>
#include <optional>
#include <string_view>

namespace hello_async {

/// The request's conditional header fields (RFC 9110 §13.1), as received.
struct conditions
{
    std::optional<std::string_view> if_match;
    std::optional<std::string_view> if_none_match;
    std::optional<std::string_view> if_modified_since;
    std::optional<std::string_view> if_unmodified_since;
};

/// What the preconditions say about a response to GET/HEAD (or another method).
enum class precondition
{
    proceed,
    not_modified, ///< 304
    failed,       ///< 412
};

/// RFC 9110 §13.2.2's order: If-Match, else If-Unmodified-Since; then If-None-Match, else
/// If-Modified-Since (GET and HEAD only).
[[nodiscard]] precondition evaluate_preconditions(conditions const& c,
                                                  bool get_or_head,
                                                  std::string_view etag,
                                                  std::time_t last_modified);

} // namespace hello_async
