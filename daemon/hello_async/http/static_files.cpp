#include "hello_async/http/static_files.hpp"

#include "hello_async/http/etag.hpp"
#include "hello_async/http/http_date.hpp"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <iterator>
#include <linux/openat2.h>
#include <string>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <unordered_map>

namespace hello_async {
namespace {

// O_NONBLOCK: opening a FIFO someone left in the tree must not block the I/O thread.
constexpr int open_flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;

/// What a file descriptor returned by open() says about the file it names.
file_lookup lookup_of_opened(int fd)
{
    file_lookup out;
    if (fd < 0) {
        switch (errno) {
        case ENOENT:
        case ENOTDIR:
        case ENAMETOOLONG:
            out.result = file_lookup::outcome::not_found;
            break;
        case EMFILE:
        case ENFILE:
            out.result = file_lookup::outcome::out_of_descriptors;
            break;
        default: // EACCES, EXDEV (escape attempt), ELOOP, ...
            out.result = file_lookup::outcome::forbidden;
            break;
        }
        return out;
    }
    unique_fd owned{fd};
    struct stat st
    {
    };
    if (::fstat(fd, &st) != 0) {
        out.result = file_lookup::outcome::forbidden;
        return out;
    }
    if (S_ISDIR(st.st_mode)) {
        out.result = file_lookup::outcome::is_directory;
        return out;
    }
    if (!S_ISREG(st.st_mode)) {
        out.result = file_lookup::outcome::forbidden;
        return out;
    }
    out.result = file_lookup::outcome::found;
    out.file.fd = std::move(owned);
    out.file.size = static_cast<std::uint64_t>(st.st_size);
    out.file.mtime = st.st_mtim;
    out.file.inode = st.st_ino;
    out.file.device = st.st_dev;
    return out;
}

constexpr std::uint64_t cached_size_max = std::uint64_t{64} * 1024;
constexpr std::size_t cached_files_max = 512;
/// How long a cached file's name is trusted to lead to the same file without a lookup.
constexpr std::chrono::seconds name_recheck_period{1};

/// What the cache shares with the responses it serves.
struct cached_file
{
    std::string bytes;
    std::string etag;
    std::string last_modified;
};

struct cache_entry
{
    std::shared_ptr<cached_file const> file;
    unique_fd fd; ///< the file itself: fstat on it sees changes made in place
    /// The inotify watch on the file, or -1: then each hit checks it with fstat instead.
    int watch{-1};
    dev_t device{0};
    ino_t inode{0};
    struct timespec mtime
    {
    };
    std::chrono::steady_clock::time_point name_checked;
    bool has_sibling{false}; ///< looked up with the name, at most once a second
};

/// Changes to a cached file in place (write, truncate, touch) and its name being unlinked or
/// renamed over, which changes its link count.
constexpr std::uint32_t change_mask =
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVE_SELF | IN_DELETE_SELF;

/// One I/O thread's cache. Touched only by its own thread: no locks.
struct thread_files
{
    std::unordered_map<std::string, cache_entry> entries;
    int notices{-1}; ///< the inotify instance the server reads for this thread, or -1
    /// A request may have arrived after a notice that is still unread (see
    /// file_notices_may_be_pending).
    bool notices_pending{false};
    std::unordered_map<int, unsigned> watch_users; ///< entries per watch: one inode, many names

    /// Watches the file open as `fd`; -1 when there is nothing to watch with or the kernel
    /// refuses (max_user_watches): that entry is then checked with fstat on every hit.
    int watch(int fd)
    {
        if (notices < 0)
            return -1;
        // inotify has no fd-based call; the magic link names exactly the file that was opened.
        auto const path = "/proc/self/fd/" + std::to_string(fd);
        int const wd = ::inotify_add_watch(notices, path.c_str(), change_mask);
        if (wd >= 0)
            ++watch_users[wd];
        return wd;
    }

    void release(int wd)
    {
        auto const it = watch_users.find(wd);
        if (it == watch_users.end() || --it->second > 0)
            return;
        watch_users.erase(it);
        ::inotify_rm_watch(notices, wd);
    }

    void erase(std::unordered_map<std::string, cache_entry>::iterator it)
    {
        release(it->second.watch);
        entries.erase(it);
    }

    void clear()
    {
        for (auto const& [wd, users] : watch_users)
            ::inotify_rm_watch(notices, wd);
        watch_users.clear();
        entries.clear();
    }

    /// Drops the entries that `wd` watches; `gone` when the kernel has already removed it.
    void drop_watched_by(int wd, bool gone)
    {
        if (gone)
            watch_users.erase(wd); // nothing left to remove: erase() skips it
        for (auto it = entries.begin(); it != entries.end();) {
            auto const next = std::next(it);
            if (it->second.watch == wd)
                erase(it);
            it = next;
        }
    }
};

thread_files& thread_cache()
{
    thread_local thread_files files;
    return files;
}

/// Whether NAME.br or NAME.gz exists beside `name`. Whether an entry by that name exists is
/// all Vary needs; which file it leads to is for the safe open, when a client asks for it.
bool sibling_exists(int dir_fd, std::string_view name)
{
    std::string sibling{name};
    auto const exists = [&](char const* suffix) {
        sibling.resize(name.size());
        sibling += suffix;
        struct stat st
        {
        };
        return ::fstatat(dir_fd, sibling.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    };
    return exists(".br") || exists(".gz");
}

bool unchanged(struct stat const& st, cache_entry const& entry)
{
    return S_ISREG(st.st_mode) && st.st_dev == entry.device && st.st_ino == entry.inode &&
           static_cast<std::uint64_t>(st.st_size) == entry.file->bytes.size() &&
           st.st_mtim.tv_sec == entry.mtime.tv_sec && st.st_mtim.tv_nsec == entry.mtime.tv_nsec;
}

/// Whether the cached entry still stands for `name` below `dir_fd` (see open_beneath).
bool still_valid(int dir_fd, char const* name, cache_entry& entry)
{
    struct stat st
    {
    };
    if (entry.watch < 0 && (::fstat(entry.fd.get(), &st) != 0 || !unchanged(st, entry)))
        return false;
    auto const now = std::chrono::steady_clock::now();
    if (now - entry.name_checked < name_recheck_period)
        return true;
    if (::fstatat(dir_fd, name, &st, 0) != 0 || !unchanged(st, entry))
        return false;
    entry.name_checked = now;
    entry.has_sibling = sibling_exists(dir_fd, name);
    return true;
}

void share_cached(cache_entry const& entry, open_file& out)
{
    out.content = std::shared_ptr<std::string const>{entry.file, &entry.file->bytes};
    out.cached_etag = entry.file->etag;
    out.cached_last_modified = entry.file->last_modified;
    out.precompressed_sibling = entry.has_sibling;
    out.size = entry.file->bytes.size();
    out.device = entry.device;
    out.inode = entry.inode;
    out.mtime = entry.mtime;
}

/// The key of `name` below `dir_fd` in a thread's caches: the descriptor's bytes, then the
/// name. One buffer per thread, so that a hit costs no allocation.
std::string const& cache_key(int dir_fd, std::string_view name)
{
    thread_local std::string key;
    std::array<char, sizeof dir_fd> dir_bytes{};
    std::memcpy(dir_bytes.data(), &dir_fd, sizeof dir_fd);
    key.assign(dir_bytes.data(), dir_bytes.size());
    key.append(name);
    return key;
}

/// `name` below `dir_fd` (AT_FDCWD for an absolute path) through the cache; `open_uncached`
/// opens it safely when the cache cannot answer.
template <class OpenUncached>
file_lookup open_cached(int dir_fd, std::string_view name, OpenUncached&& open_uncached)
{
    auto& cache = thread_cache();
    if (cache.notices >= 0 && cache.notices_pending)
        drop_changed_files();
    auto const& key = cache_key(dir_fd, name);
    if (auto const it = cache.entries.find(key); it != cache.entries.end()) {
        if (still_valid(dir_fd, key.c_str() + sizeof dir_fd, it->second)) {
            file_lookup out;
            out.result = file_lookup::outcome::found;
            share_cached(it->second, out.file);
            return out;
        }
        cache.erase(it);
    }
    auto found = open_uncached();
    if (found.result != file_lookup::outcome::found || found.file.size > cached_size_max)
        return found;
    if (cache.entries.size() >= cached_files_max)
        cache.clear(); // a crude bound: a site with more small files than this rereads them
    cache_entry entry;
    entry.fd = std::move(found.file.fd);
    entry.device = found.file.device;
    entry.inode = found.file.inode;
    entry.mtime = found.file.mtime;
    entry.name_checked = std::chrono::steady_clock::now();
    // Watched before it is read: a change from here on is reported, and one made since the
    // open shows in a second fstat.
    entry.watch = cache.watch(entry.fd.get());
    auto file = std::make_shared<cached_file>();
    entry.file = file;
    struct stat st
    {
    };
    if (!read_whole(entry.fd.get(), found.file.size, file->bytes) ||
        (entry.watch >= 0 && (::fstat(entry.fd.get(), &st) != 0 || !unchanged(st, entry))))
    {
        cache.release(entry.watch);
        found.file.fd = std::move(entry.fd);
        return found;
    }
    file->etag = make_etag(found.file.inode, found.file.size, found.file.mtime, {});
    file->last_modified = format_http_date(found.file.mtime.tv_sec);
    entry.has_sibling = sibling_exists(dir_fd, name);
    file_lookup out;
    out.result = file_lookup::outcome::found;
    share_cached(entry, out.file);
    cache.entries.insert_or_assign(key, std::move(entry));
    return out;
}

file_lookup open_beneath_uncached(int dir_fd, std::string const& name)
{
    struct open_how how
    {
    };
    how.flags = static_cast<std::uint64_t>(open_flags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long rc = 0;
    do {
        rc = ::syscall(SYS_openat2, dir_fd, name.c_str(), &how, sizeof how);
    } while (rc < 0 && errno == EAGAIN); // a concurrent rename makes RESOLVE_* ask for a retry
    return lookup_of_opened(static_cast<int>(rc));
}

} // namespace

file_lookup open_beneath(int dir_fd, std::string_view relative)
{
    if (relative.empty())
        relative = ".";
    if (relative.find('\0') != std::string_view::npos)
        return {};
    std::string const name{relative};
    return open_cached(dir_fd, name, [&] { return open_beneath_uncached(dir_fd, name); });
}

void watch_cached_files(int notices)
{
    auto& cache = thread_cache();
    cache.clear();
    cache.notices = notices;
    cache.notices_pending = false;
}

void file_notices_may_be_pending()
{
    thread_cache().notices_pending = true;
}

void drop_changed_files()
{
    auto& cache = thread_cache();
    if (cache.notices < 0)
        return;
    cache.notices_pending = false;
    alignas(inotify_event) std::array<char, 4096> events{};
    for (;;) {
        auto const got = ::read(cache.notices, events.data(), events.size());
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return; // EAGAIN: all read
        for (std::size_t at = 0; at < static_cast<std::size_t>(got);) {
            inotify_event event{};
            std::memcpy(&event, events.data() + at, sizeof event);
            at += sizeof event + event.len;
            if ((event.mask & IN_Q_OVERFLOW) != 0) {
                cache.clear(); // changes were lost: trust nothing
                continue;
            }
            if ((event.mask & (change_mask | IN_IGNORED)) != 0)
                cache.drop_watched_by(event.wd, (event.mask & IN_IGNORED) != 0);
        }
    }
}

bool has_precompressed_sibling(int dir_fd, std::string const& name)
{
    struct sibling_entry
    {
        bool exists{false};
        std::chrono::steady_clock::time_point checked;
    };
    thread_local std::unordered_map<std::string, sibling_entry> known;
    auto const now = std::chrono::steady_clock::now();
    auto const& key = cache_key(dir_fd, name);
    if (auto const it = known.find(key);
        it != known.end() && now - it->second.checked < name_recheck_period)
        return it->second.exists;
    bool const found = sibling_exists(dir_fd, name);
    if (known.size() >= cached_files_max)
        known.clear();
    known.insert_or_assign(key, sibling_entry{found, now});
    return found;
}

file_lookup open_configured(std::filesystem::path const& path)
{
    return open_cached(AT_FDCWD, path.native(),
                       [&] { return lookup_of_opened(::open(path.c_str(), open_flags)); });
}

bool read_span(int fd, std::uint64_t offset, std::uint64_t length, std::string& out)
{
    out.clear();
    return append_span(fd, offset, length, out);
}

bool append_span(int fd, std::uint64_t offset, std::uint64_t length, std::string& out)
{
    auto const start = out.size();
    out.resize(start + length);
    std::uint64_t done = 0;
    while (done < length) {
        auto const n = ::pread(fd, out.data() + start + done, length - done,
                               static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += static_cast<std::uint64_t>(n);
    }
    return true;
}

} // namespace hello_async
