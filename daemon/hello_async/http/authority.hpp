#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hello_async {

/// A validated `host [ ":" port ]`, from the Host field or an absolute-form target.
struct authority
{
    std::string host{}; ///< lower-cased, without a trailing dot; an IP literal keeps its brackets
    std::uint16_t port{0}; ///< 0: none given
};

/// Parses `host [ ":" port ]` (RFC 9112 §3.2, RFC 3986 §3.2.2), more strictly than RFC 3986's
/// reg-name, as nginx does: the host is an IPv6 or IPvFuture literal in brackets, a dotted
/// IPv4 address, or a name of dot-separated labels of 1 to 63 letters, digits, '-' and '_'
/// (at most 253 in all; one trailing dot allowed). No %-encoding, sub-delims or IPv6 zone IDs.
/// The port is empty, or 1 to 5 digits from 1 to 65535. nullopt when `text` is none of these.
[[nodiscard]] std::optional<authority> parse_authority(std::string_view text);

} // namespace hello_async
