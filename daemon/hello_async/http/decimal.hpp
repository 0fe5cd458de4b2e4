#pragma once

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hello_async {

/// A number's decimal digits, held in place: for headers and log entries, which are written for
/// every request and should not allocate.
class decimal
{
  public:
    explicit decimal(std::uint64_t value) noexcept
        : size_{static_cast<std::size_t>(
              std::to_chars(digits_.data(), digits_.data() + digits_.size(), value).ptr -
              digits_.data())}
    {}

    [[nodiscard]] std::string_view text() const noexcept { return {digits_.data(), size_}; }

  private:
    std::array<char, 20> digits_{}; ///< enough for any 64-bit value
    std::size_t size_;
};

} // namespace hello_async
