#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/stat.h>

namespace hello_async {

/// A strong entity tag for one representation: inode, size and modification time, plus the
/// content coding ("br", "gzip") so that every encoding of a file has its own tag.
[[nodiscard]] std::string
make_etag(ino_t inode, std::uint64_t size, struct timespec mtime, std::string_view coding = {});

/// Strong comparison (RFC 9110 §8.8.3.2) of `etag` against a list of tags or "*": weak tags
/// never match.
[[nodiscard]] bool strong_match(std::string_view list, std::string_view etag);

/// Weak comparison (RFC 9110 §8.8.3.2): W/ prefixes are ignored on both sides.
[[nodiscard]] bool weak_match(std::string_view list, std::string_view etag);

} // namespace hello_async
