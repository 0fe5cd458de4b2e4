#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>

namespace hello_async {

/// A strong entity tag for one representation: inode, size and modification time, plus the
/// content coding ("br", "gzip") so that every encoding of a file has its own tag.
[[nodiscard]] std::string
make_etag(ino_t inode, std::uint64_t size, struct timespec mtime, std::string_view coding = {});

/// Parses an HTTP-date (IMF-fixdate, and the obsolete RFC 850 and asctime forms that
/// RFC 9110 §5.6.7 says recipients must accept); nullopt when it is none of them.
[[nodiscard]] std::optional<std::time_t> parse_http_date(std::string_view text);

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

/// The content codings a client accepts, from Accept-Encoding with its q-values (RFC 9110
/// §12.5.3). An absent field accepts everything but prefers identity, so nothing is compressed.
struct accepted_codings
{
    bool br{false};
    bool gzip{false};
};
[[nodiscard]] accepted_codings parse_accept_encoding(std::optional<std::string_view> field);

} // namespace hello_async
