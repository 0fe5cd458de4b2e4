#include "hello_async/http/request_body.hpp"

#include "hello_async/http/field_text.hpp"

#include <algorithm>
#include <array>

namespace hello_async {
namespace {

using verdict = chunked_body::verdict;

constexpr std::size_t size_digits_max = 16; // 64 bits

bool is_whitespace(char c)
{
    return c == ' ' || c == '\t';
}

/// VCHAR and obs-text: what a field value or quoted pair may hold besides SP and HTAB.
bool is_visible(char c)
{
    auto const u = static_cast<unsigned char>(c);
    return (u > 0x20 && u != 0x7f);
}

/// RFC 9110 §6.5.1: fields a trailer must not carry, since they would change how the message
/// is framed, routed, authenticated or understood after the fact.
bool forbidden_in_trailer(std::string_view name)
{
    constexpr std::array<std::string_view, 26> forbidden{
        "authorization",
        "cache-control",
        "connection",
        "content-encoding",
        "content-length",
        "content-range",
        "content-type",
        "cookie",
        "expect",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "keep-alive",
        "max-forwards",
        "pragma",
        "proxy-authorization",
        "proxy-connection",
        "range",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "www-authenticate",
    };
    return std::find(forbidden.begin(), forbidden.end(), name) != forbidden.end();
}

} // namespace

chunked_body::progress chunked_body::read(std::string_view input)
{
    std::size_t at = 0;
    while (at < input.size()) {
        if (state_ == &chunked_body::data_byte) {
            auto const take =
                static_cast<std::size_t>(std::min<std::uint64_t>(chunk_left_, input.size() - at));
            at += take;
            chunk_left_ -= take;
            if (chunk_left_ == 0)
                state_ = &chunked_body::data_cr_byte;
            continue;
        }
        auto const result = step(input[at++]);
        if (result != verdict::more)
            return {at, result};
    }
    return {at, verdict::more};
}

chunked_body::verdict chunked_body::step(char c)
{
    // The size line and the trailer section are bounded like a request head.
    if (++(in_trailer_ ? trailer_bytes_ : line_bytes_) > line_max_)
        return verdict::bad;
    for (;;) {
        auto const [result, again] = (this->*state_)(c);
        if (!again)
            return result;
    }
}

chunked_body::outcome chunked_body::move_to(handler next, bool again)
{
    state_ = next;
    return {verdict::more, again};
}

chunked_body::outcome chunked_body::expect(char c, char wanted, handler next)
{
    if (c != wanted)
        return {verdict::bad}; // line ends are CRLF, and chunk data is followed by one at once
    return move_to(next);
}

chunked_body::outcome chunked_body::size_byte(char c)
{
    if (auto const digit = hex_value(c); digit >= 0) {
        if (++digits_ > size_digits_max)
            return {verdict::bad};
        chunk_left_ = chunk_left_ * 16 + static_cast<std::uint64_t>(digit);
        return {};
    }
    if (digits_ == 0)
        return {verdict::bad}; // leading whitespace, a sign, or no size at all
    // After the size, as after an extension: BWS, then ';' or the line's end.
    return move_to(&chunked_body::separator_byte, true);
}

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), where a value is
// a token or a quoted-string (RFC 9112 §7.1.1).

chunked_body::outcome chunked_body::ext_name_byte(char c)
{
    if (is_token_char(c)) {
        name_.push_back(c);
        return {};
    }
    if (name_.empty())
        return {is_whitespace(c) ? verdict::more : verdict::bad};
    return move_to(&chunked_body::after_name_byte, true);
}

chunked_body::outcome chunked_body::after_name_byte(char c)
{
    if (c == '=')
        return move_to(&chunked_body::value_start_byte);
    return separator_byte(c);
}

/// Between the parts of the line: BWS, then ';' or the CR ending the line.
chunked_body::outcome chunked_body::separator_byte(char c)
{
    if (is_whitespace(c))
        return {};
    if (c == ';') {
        name_.clear();
        return move_to(&chunked_body::ext_name_byte);
    }
    return expect(c, '\r', &chunked_body::size_lf_byte);
}

chunked_body::outcome chunked_body::value_start_byte(char c)
{
    if (is_whitespace(c))
        return {};
    if (c == '"')
        return move_to(&chunked_body::quoted_byte);
    if (!is_token_char(c))
        return {verdict::bad};
    return move_to(&chunked_body::token_byte);
}

chunked_body::outcome chunked_body::token_byte(char c)
{
    if (is_token_char(c))
        return {};
    return move_to(&chunked_body::separator_byte, true);
}

chunked_body::outcome chunked_body::quoted_byte(char c)
{
    if (c == '"')
        return move_to(&chunked_body::separator_byte);
    if (c == '\\')
        return move_to(&chunked_body::escaped_byte);
    // CR or LF here: the string never closed on its line.
    return {c == '\t' || c == ' ' || is_visible(c) ? verdict::more : verdict::bad};
}

chunked_body::outcome chunked_body::escaped_byte(char c)
{
    if (c != '\t' && c != ' ' && !is_visible(c))
        return {verdict::bad};
    return move_to(&chunked_body::quoted_byte);
}

chunked_body::outcome chunked_body::size_lf_byte(char c)
{
    if (c != '\n')
        return {verdict::bad};
    if (chunk_left_ == 0) {
        in_trailer_ = true;
        return move_to(&chunked_body::trailer_start_byte);
    }
    if (chunk_left_ > body_max_ - body_total_)
        return {verdict::too_large};
    body_total_ += chunk_left_;
    return move_to(&chunked_body::data_byte);
}

// A state like the others, called through `state_`: it cannot be static.
// NOLINTNEXTLINE(readability-convert-member-functions-to-static)
chunked_body::outcome chunked_body::data_byte(char /*c*/)
{
    return {verdict::bad}; // never called: read() takes chunk data in bulk
}

chunked_body::outcome chunked_body::data_cr_byte(char c)
{
    return expect(c, '\r', &chunked_body::data_lf_byte);
}

chunked_body::outcome chunked_body::data_lf_byte(char c)
{
    line_bytes_ = 0;
    digits_ = 0;
    return expect(c, '\n', &chunked_body::size_byte);
}

chunked_body::outcome chunked_body::trailer_start_byte(char c)
{
    if (c == '\r')
        return move_to(&chunked_body::final_lf_byte);
    name_.clear();
    return move_to(&chunked_body::trailer_name_byte, true);
}

chunked_body::outcome chunked_body::trailer_name_byte(char c)
{
    if (c == ':') {
        if (name_.empty() || forbidden_in_trailer(name_))
            return {verdict::bad};
        return move_to(&chunked_body::trailer_value_byte);
    }
    if (!is_token_char(c))
        return {verdict::bad};
    name_.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    return {};
}

chunked_body::outcome chunked_body::trailer_value_byte(char c)
{
    if (c == '\r')
        return move_to(&chunked_body::trailer_lf_byte);
    return {c == '\t' || c == ' ' || is_visible(c) ? verdict::more : verdict::bad};
}

chunked_body::outcome chunked_body::trailer_lf_byte(char c)
{
    return expect(c, '\n', &chunked_body::trailer_start_byte);
}

// A state like the others, called through `state_`: it cannot be static.
// NOLINTNEXTLINE(readability-convert-member-functions-to-static)
chunked_body::outcome chunked_body::final_lf_byte(char c)
{
    return {c == '\n' ? verdict::done : verdict::bad};
}

} // namespace hello_async
