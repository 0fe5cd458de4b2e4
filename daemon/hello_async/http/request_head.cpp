#include "hello_async/http/request_head.hpp"

#include "hello_async/http/field_text.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>

namespace hello_async {
namespace http = boost::beast::http;

std::size_t find_head_end(std::string_view data)
{
    for (auto lf = data.find('\n'); lf != std::string_view::npos; lf = data.find('\n', lf + 1)) {
        if (lf + 1 < data.size() && data[lf + 1] == '\n')
            return lf + 2;
        if (lf + 2 < data.size() && data[lf + 1] == '\r' && data[lf + 2] == '\n')
            return lf + 3;
    }
    return std::string_view::npos;
}

namespace {

/// The bytes of `word` that are control bytes (below 0x20, or DEL), each marked by its high bit.
/// The lowest marked byte is one; marks above it may be wrong, as a borrow runs on into the
/// next byte up.
constexpr std::uint64_t control_bytes(std::uint64_t word)
{
    constexpr std::uint64_t ones = 0x0101010101010101;
    constexpr std::uint64_t high_bits = 0x8080808080808080;
    auto const below_space = (word - ones * 0x20) & ~word & high_bits;
    auto const del = word ^ (ones * 0x7f);
    return below_space | ((del - ones) & ~del & high_bits);
}

/// Eight bytes of `data`, the first one lowest: a borrow in control_bytes() then runs from a
/// byte towards the ones after it, never before.
std::uint64_t load_little_endian(char const* data)
{
    std::uint64_t word = 0;
    std::memcpy(&word, data, sizeof word);
    if constexpr (std::endian::native == std::endian::big) {
        word = __builtin_bswap64(word);
    }
    return word;
}

} // namespace

bool head_is_clean(std::string_view head)
{
    std::size_t i = 0;
    while (i < head.size()) {
        // Eight bytes at a time to the next control byte: in a request head that is almost
        // always the CR of a line's end.
        if (i + sizeof(std::uint64_t) <= head.size()) {
            auto const marks = control_bytes(load_little_endian(head.data() + i));
            if (marks == 0) {
                i += sizeof(std::uint64_t);
                continue;
            }
            i += static_cast<std::size_t>(std::countr_zero(marks) / 8);
        } else if (auto const c = static_cast<unsigned char>(head[i]); c >= 0x20 && c != 0x7f) {
            ++i;
            continue;
        }
        switch (head[i]) {
        case '\r':
            if (i + 1 >= head.size() || head[i + 1] != '\n')
                return false; // bare CR
            break;
        case '\n':
            if (i == 0 || head[i - 1] != '\r')
                return false; // bare LF
            // A field line that starts with whitespace continues the previous one (obs-fold).
            if (i + 1 < head.size() && (head[i + 1] == ' ' || head[i + 1] == '\t'))
                return false;
            break;
        case '\t':
            break;
        default:
            return false; // NUL and other control bytes
        }
        ++i;
    }
    return true;
}

namespace {

/// How many of the fields the checks look at a head has, and its first Host: one pass over the
/// fields instead of a lookup by name for each.
struct field_census
{
    std::size_t fields{0};
    std::size_t lengths{0}; ///< Content-Length
    std::size_t codings{0}; ///< Transfer-Encoding
    std::size_t hosts{0};
    std::size_t expects{0};
    std::string_view first_host;
};

field_census count_fields(request_head const& req)
{
    field_census census;
    for (auto const& field : req) {
        ++census.fields;
        switch (field.name()) {
        case http::field::content_length:
            ++census.lengths;
            break;
        case http::field::transfer_encoding:
            ++census.codings;
            break;
        case http::field::host:
            if (census.hosts++ == 0)
                census.first_host = field.value();
            break;
        case http::field::expect:
            ++census.expects;
            break;
        default:
            break;
        }
    }
    return census;
}

/// 400 for framing RFC 9112 §6 refuses, 414 and 431 for the limits; 0 when all is well.
unsigned framing_refusal(request_head const& req, field_census const& census, limits const& lim)
{
    if (req.target().size() > lim.uri_bytes)
        return 414;
    if (census.fields > lim.header_fields)
        return 431;
    auto const lengths = census.lengths;
    auto const codings = census.codings;
    if (lengths > 1)
        return 400; // even with equal values: two framings are one too many
    if (codings == 0)
        return 0;
    if (lengths > 0 || req.version() < 11)
        return 400;
    // Only the last field's last coding decides; every list element must be a token.
    std::string_view final_coding;
    auto const [first, last] = req.equal_range(http::field::transfer_encoding);
    for (auto it = first; it != last; ++it) {
        std::string_view const value = it->value();
        auto const comma = value.rfind(',');
        final_coding = trim_ows(comma == std::string_view::npos ? value : value.substr(comma + 1));
    }
    return iequals_ascii(final_coding, "chunked") ? 0 : 400;
}

/// The authority part of an absolute-form target ("http://HOST:PORT/path"); nullopt for any
/// other form.
std::optional<std::string_view> absolute_form_authority(std::string_view target)
{
    for (std::string_view const scheme : {"http://", "https://"}) {
        if (target.size() >= scheme.size() &&
            iequals_ascii(target.substr(0, scheme.size()), scheme)) {
            auto const rest = target.substr(scheme.size());
            return rest.substr(0, rest.find_first_of("/?#"));
        }
    }
    return std::nullopt;
}

/// Host and the target's authority (RFC 9112 §3.2): the refusal, or the authority to use.
head_check check_authority(request_head const& req, field_census const& census)
{
    head_check out;
    auto const hosts = census.hosts;
    if (hosts > 1 || (req.version() >= 11 && hosts == 0))
        return {400};
    if (hosts == 1) {
        auto host = parse_authority(census.first_host);
        if (!host)
            return {400};
        out.host = std::move(*host);
    }
    std::string_view const target = req.target();
    if (req.method() == http::verb::connect) {
        auto named = parse_authority(target);
        if (!named || named->port == 0)
            return {400};
        out.host = std::move(*named);
        return out;
    }
    if (auto const absolute = absolute_form_authority(target)) {
        // RFC 9110 §4.2.4: userinfo has no place in an http URI a server receives.
        auto named = absolute->find('@') == std::string_view::npos ? parse_authority(*absolute)
                                                                   : std::nullopt;
        if (!named)
            return {400};
        out.host = std::move(*named); // RFC 9112 §3.2.2: the target's authority wins
    }
    return out;
}

/// Expect (RFC 9110 §10.1.1): 100-continue is understood; anything else is 417.
head_check check_expectation(request_head const& req, head_check out)
{
    if (req.version() < 11)
        return out; // HTTP/1.0 did not have Expect
    auto const [first, last] = req.equal_range(http::field::expect);
    for (auto it = first; it != last; ++it) {
        bool known = true;
        for_each_element(it->value(), [&](std::string_view expectation) {
            known = known && iequals_ascii(expectation, "100-continue");
        });
        if (!known)
            return {417};
        out.expects_continue = true;
    }
    return out;
}

} // namespace

std::optional<request_line> split_request_line(std::string_view head)
{
    auto const line = head.substr(0, head.find("\r\n"));
    auto const first_space = line.find(' ');
    auto const second_space =
        first_space == std::string_view::npos ? first_space : line.find(' ', first_space + 1);
    if (second_space == std::string_view::npos ||
        line.find(' ', second_space + 1) != std::string_view::npos)
        return std::nullopt;
    request_line out{line.substr(0, first_space),
                     line.substr(first_space + 1, second_space - first_space - 1),
                     line.substr(second_space + 1)};
    if (out.method.empty() || out.target.empty() || out.version.empty() ||
        !std::all_of(out.method.begin(), out.method.end(), is_token_char))
        return std::nullopt;
    return out;
}

std::optional<unsigned> version_number(std::string_view version)
{
    auto const digit = [](char c) { return c >= '0' && c <= '9'; };
    if (version.size() != 8 || !version.starts_with("HTTP/") || !digit(version[5]) ||
        version[6] != '.' || !digit(version[7]))
        return std::nullopt;
    return static_cast<unsigned>((version[5] - '0') * 10 + (version[7] - '0'));
}

version_verdict judge_version(std::string_view version)
{
    auto const number = version_number(version);
    if (!number)
        return version_verdict::as_is;
    if (*number / 10 != 1)
        return version_verdict::unsupported;
    return *number > 11 ? version_verdict::serve_as_1_1 : version_verdict::as_is;
}

head_check check_request_head(request_head const& req, limits const& lim)
{
    auto const census = count_fields(req);
    if (auto const refusal = framing_refusal(req, census, lim); refusal != 0)
        return {refusal};
    auto checked = check_authority(req, census);
    if (checked.refusal != 0 || census.expects == 0)
        return checked;
    return check_expectation(req, std::move(checked));
}

} // namespace hello_async
