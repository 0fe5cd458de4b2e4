#include "hello_async/http/static_files.hpp"

#include "hello_async/http/etag.hpp"
#include "hello_async/http/http_date.hpp"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string>
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
    dev_t device{0};
    ino_t inode{0};
    struct timespec mtime
    {
    };
    std::chrono::steady_clock::time_point name_checked;
    bool has_sibling{false}; ///< looked up with the name, at most once a second
};

/// Touched only by its own I/O thread: no locks.
std::unordered_map<std::string, cache_entry>& thread_cache()
{
    thread_local std::unordered_map<std::string, cache_entry> cache;
    return cache;
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
    if (::fstat(entry.fd.get(), &st) != 0 || !unchanged(st, entry))
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
    auto const& key = cache_key(dir_fd, name);
    auto& cache = thread_cache();
    if (auto const it = cache.find(key); it != cache.end()) {
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
    auto file = std::make_shared<cached_file>();
    if (!read_whole(found.file.fd.get(), found.file.size, file->bytes))
        return found;
    file->etag = make_etag(found.file.inode, found.file.size, found.file.mtime, {});
    file->last_modified = format_http_date(found.file.mtime.tv_sec);
    if (cache.size() >= cached_files_max)
        cache.clear(); // a crude bound: a site with more small files than this rereads them
    cache_entry entry{std::move(file),  std::move(found.file.fd), found.file.device,
                      found.file.inode, found.file.mtime,         std::chrono::steady_clock::now()};
    entry.has_sibling = sibling_exists(dir_fd, name);
    file_lookup out;
    out.result = file_lookup::outcome::found;
    share_cached(entry, out.file);
    cache.insert_or_assign(key, std::move(entry));
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
