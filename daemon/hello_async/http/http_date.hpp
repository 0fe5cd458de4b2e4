#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace hello_async {

/// IMF-fixdate (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
[[nodiscard]] std::string format_http_date(std::time_t when);

/// The current IMF-fixdate, rebuilt at most once a second per thread.
[[nodiscard]] std::string_view current_http_date();

/// Parses an HTTP-date (IMF-fixdate, and the obsolete RFC 850 and asctime forms that
/// RFC 9110 §5.6.7 says recipients must accept); nullopt when it is none of them.
[[nodiscard]] std::optional<std::time_t> parse_http_date(std::string_view text);

} // namespace hello_async
