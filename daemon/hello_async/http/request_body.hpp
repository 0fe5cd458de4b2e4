#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hello_async {

/// Reads a chunked request body (RFC 9112 §7.1) byte by byte and throws its content away, more
/// strictly than a lenient parser: chunk sizes are 1 to 16 hex digits with nothing before them,
/// every line ends in CRLF (a bare LF is refused), chunk data must be followed by CRLF at once,
/// extensions follow the grammar (a quoted string must close on its line), and the trailer
/// section holds well-formed field lines none of which RFC 9110 §6.5.1 forbids in a trailer.
/// A refusal comes as soon as the offending byte arrives, not when more input runs out.
class chunked_body
{
  public:
    enum class verdict
    {
        more,      ///< all of the input was consumed; the body goes on
        done,      ///< the body ended; `consumed` bytes of the input were part of it
        bad,       ///< malformed: 400
        too_large, ///< more data than the body limit: 413
    };

    struct progress
    {
        std::size_t consumed{0};
        verdict result{verdict::more};
    };

    /// `line_max`: the longest chunk-size line or trailer section; `body_max`: the most chunk
    /// data in all.
    chunked_body(std::size_t line_max, std::uint64_t body_max)
        : line_max_{line_max}
        , body_max_{body_max}
    {}

    /// Reads as much of `input` as belongs to the body.
    [[nodiscard]] progress read(std::string_view input);

  private:
    /// What a state's handler made of a byte: a verdict, or (again) a new state that must see
    /// the same byte, as when a size or a token ends at the byte that follows it.
    struct outcome
    {
        verdict result{verdict::more};
        bool again{false};
    };

    /// The state is the handler of the next byte.
    using handler = outcome (chunked_body::*)(char);

    [[nodiscard]] verdict step(char c);
    [[nodiscard]] outcome move_to(handler next, bool again = false);
    [[nodiscard]] outcome expect(char c, char wanted, handler next);
    // The size line: chunk-size [ chunk-ext ] CRLF.
    [[nodiscard]] outcome size_byte(char c);
    [[nodiscard]] outcome ext_name_byte(char c);
    [[nodiscard]] outcome after_name_byte(char c);
    [[nodiscard]] outcome separator_byte(char c);
    [[nodiscard]] outcome value_start_byte(char c);
    [[nodiscard]] outcome token_byte(char c);
    [[nodiscard]] outcome quoted_byte(char c);
    [[nodiscard]] outcome escaped_byte(char c);
    [[nodiscard]] outcome size_lf_byte(char c);
    // The chunk data, and the CRLF after it.
    [[nodiscard]] outcome data_byte(char c);
    [[nodiscard]] outcome data_cr_byte(char c);
    [[nodiscard]] outcome data_lf_byte(char c);
    // The trailer section: *( field-line CRLF ) CRLF.
    [[nodiscard]] outcome trailer_start_byte(char c);
    [[nodiscard]] outcome trailer_name_byte(char c);
    [[nodiscard]] outcome trailer_value_byte(char c);
    [[nodiscard]] outcome trailer_lf_byte(char c);
    [[nodiscard]] outcome final_lf_byte(char c);

    std::size_t line_max_;
    std::uint64_t body_max_;
    handler state_{&chunked_body::size_byte};
    bool in_trailer_{false};
    std::uint64_t chunk_left_{0};
    std::uint64_t body_total_{0};
    std::size_t digits_{0};
    std::size_t line_bytes_{0};    ///< of the current size line
    std::size_t trailer_bytes_{0}; ///< of the whole trailer section
    std::string name_;             ///< the current extension's or trailer field's name
};

/// A request body to read and throw away: Content-Length bytes, or a chunked body.
class request_body
{
  public:
    /// `content_length` when the head gave one, else the body is chunked.
    request_body(std::optional<std::uint64_t> content_length,
                 std::size_t line_max,
                 std::uint64_t body_max)
        : left_{content_length.value_or(0)}
        , chunked_{content_length ? std::nullopt
                                  : std::optional<chunked_body>{std::in_place, line_max, body_max}}
    {}

    /// Reads as much of `input` as belongs to the body.
    [[nodiscard]] chunked_body::progress read(std::string_view input)
    {
        if (chunked_)
            return chunked_->read(input);
        auto const take = static_cast<std::size_t>(std::min<std::uint64_t>(left_, input.size()));
        left_ -= take;
        return {take, left_ == 0 ? chunked_body::verdict::done : chunked_body::verdict::more};
    }

  private:
    std::uint64_t left_;
    std::optional<chunked_body> chunked_;
};

} // namespace hello_async
