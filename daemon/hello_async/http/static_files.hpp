#pragma once

#include "hello_async/http/unique_fd.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>

namespace hello_async {

/// A regular file with the metadata a response needs: open, or (small files) its content from
/// the per-thread cache.
struct open_file
{
    unique_fd fd;
    std::shared_ptr<std::string const> content; ///< set instead of fd for a cached small file
    /// A cached file's validators, made once when it was read; views kept alive by `content`.
    std::string_view cached_etag;
    std::string_view cached_last_modified;
    /// A cached file's NAME.br or NAME.gz, as last looked up; unknown for other files.
    std::optional<bool> precompressed_sibling;
    std::uint64_t size{0};
    dev_t device{0};
    struct timespec mtime
    {
    };
    ino_t inode{0};

    [[nodiscard]] bool has_body() const { return static_cast<bool>(fd) || content != nullptr; }
};

/// What an attempt to open a file for a response came to.
struct file_lookup
{
    enum class outcome
    {
        found,
        not_found,    ///< missing, or a name no file can have
        forbidden,    ///< exists but may not be served: unreadable, a device, or escapes the root
        is_directory, ///< the caller decides between an index file and a redirect
        out_of_descriptors, ///< EMFILE or ENFILE: the server's problem, and a passing one
    };
    outcome result{outcome::not_found};
    open_file file;
};

/// Opens `relative` below the directory `dir_fd` with openat2(RESOLVE_BENEATH): no "..", absolute
/// symlink or symlink chain can reach a file outside that directory.
///
/// Files up to 64 KiB come from a per-thread cache instead, with their validators. A file changed
/// in place is served changed at once: the kernel reports the change (see watch_cached_files),
/// or, on a thread without that report, each request checks the cached file's own descriptor
/// (fstat: size, modification time). At most once a second the name is looked up again
/// (fstatat: device, inode), so that a file reached through a renamed directory or a swapped
/// symlink is noticed within a second, as with lighttpd's stat cache. Anything else is opened and
/// read again. What the cache holds was always read through the safe open.
[[nodiscard]] file_lookup open_beneath(int dir_fd, std::string_view relative);

/// Lets this thread's file cache trust what it holds without an fstat per request: it watches
/// each file it caches through `notices`, an inotify instance owned by the caller (-1: stop).
///
/// The caller reads the notices with drop_changed_files() whenever `notices` is readable, on the
/// same event loop as its sockets. The kernel queues a notice before the change that caused it
/// returns, so a request sent after the change makes its socket ready after the notices were: an
/// edge-triggered loop meets them first, and a request that arrives after a change is answered
/// from the changed file. Bytes that reach the server by other ways than the loop's report (a
/// read tried at once when a connection starts waiting, or a read on after the reported one)
/// have no such order: whoever reads them calls file_notices_may_be_pending(), and the next
/// lookup reads the notices first. What remains is epoll's own order, which follows readiness
/// only for descriptors not on its ready list yet: a connection listed for an earlier event that
/// a busy thread has not collected comes before a notice queued after it, so a request that
/// arrives then, a moment after a change, can still be answered from the copy before it.
void watch_cached_files(int notices);

/// Makes the next lookup on this thread read the notices first.
void file_notices_may_be_pending();

/// Reads what `notices` holds and drops the cached files it names as changed, renamed or
/// unlinked (a rename over a name unlinks the file it replaces).
void drop_changed_files();

/// Whether NAME.br or NAME.gz lies beside `name` below `dir_fd` (AT_FDCWD for an absolute
/// path); looked up at most once a second per thread, as the file cache looks names up again.
[[nodiscard]] bool has_precompressed_sibling(int dir_fd, std::string const& name);

/// Opens a file the administrator named in the config (symlinks anywhere are trusted there).
[[nodiscard]] file_lookup open_configured(std::filesystem::path const& path);

/// Reads `length` bytes from `offset` of `fd` into `out`; false when the file shrank or failed.
[[nodiscard]] bool read_span(int fd, std::uint64_t offset, std::uint64_t length, std::string& out);

/// Appends `length` bytes from `offset` of `fd` to `out`; false when the file shrank or failed.
[[nodiscard]] bool
append_span(int fd, std::uint64_t offset, std::uint64_t length, std::string& out);

/// Reads `length` bytes from the start of `fd`.
[[nodiscard]] inline bool read_whole(int fd, std::uint64_t length, std::string& out)
{
    return read_span(fd, 0, length, out);
}

} // namespace hello_async
