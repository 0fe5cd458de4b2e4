#pragma once

#include <ctime>
#include <string>
#include <string_view>

namespace hello_async {

/// IMF-fixdate (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
[[nodiscard]] std::string format_http_date(std::time_t when);

/// The current IMF-fixdate, rebuilt at most once a second per thread.
[[nodiscard]] std::string_view current_http_date();

} // namespace hello_async
