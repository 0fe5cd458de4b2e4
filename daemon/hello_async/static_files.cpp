#include "hello_async/static_files.hpp"

#include <cerrno>
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

file_lookup finish(int fd)
{
    file_lookup out;
    if (fd < 0) {
        switch (errno) {
        case ENOENT:
        case ENOTDIR:
        case ENAMETOOLONG:
            out.result = file_lookup::outcome::not_found;
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

constexpr std::uint64_t cached_size_max = 64 * 1024;
constexpr std::size_t cached_files_max = 512;

struct cache_entry
{
    std::shared_ptr<std::string const> content;
    dev_t device{0};
    ino_t inode{0};
    struct timespec mtime
    {
    };
};

/// Touched only by its own I/O thread: no locks.
std::unordered_map<std::string, cache_entry>& thread_cache()
{
    thread_local std::unordered_map<std::string, cache_entry> cache;
    return cache;
}

bool unchanged(struct stat const& st, cache_entry const& entry)
{
    return S_ISREG(st.st_mode) && st.st_dev == entry.device && st.st_ino == entry.inode &&
           static_cast<std::uint64_t>(st.st_size) == entry.content->size() &&
           st.st_mtim.tv_sec == entry.mtime.tv_sec && st.st_mtim.tv_nsec == entry.mtime.tv_nsec;
}

/// `name` below `dir_fd` (AT_FDCWD for an absolute path) through the cache; `open_uncached`
/// opens it safely when the cache cannot answer.
template <class OpenUncached>
file_lookup open_cached(int dir_fd, std::string_view name, OpenUncached&& open_uncached)
{
    std::string key = std::to_string(dir_fd);
    key.push_back('\0');
    key.append(name);
    auto& cache = thread_cache();
    if (auto const it = cache.find(key); it != cache.end()) {
        struct stat st
        {
        };
        if (::fstatat(dir_fd, key.c_str() + key.find('\0') + 1, &st, 0) == 0 &&
            unchanged(st, it->second)) {
            file_lookup out;
            out.result = file_lookup::outcome::found;
            out.file.content = it->second.content;
            out.file.size = it->second.content->size();
            out.file.device = it->second.device;
            out.file.inode = it->second.inode;
            out.file.mtime = it->second.mtime;
            return out;
        }
        cache.erase(it);
    }
    auto found = open_uncached();
    if (found.result != file_lookup::outcome::found || found.file.size > cached_size_max)
        return found;
    auto content = std::make_shared<std::string>();
    if (!read_whole(found.file.fd.get(), found.file.size, *content))
        return found;
    if (cache.size() >= cached_files_max)
        cache.clear(); // a crude bound: a site with more small files than this rereads them
    cache.insert_or_assign(std::move(key), cache_entry{content, found.file.device, found.file.inode,
                                                       found.file.mtime});
    found.file.content = std::move(content);
    found.file.fd.reset();
    return found;
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
    return finish(static_cast<int>(rc));
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

file_lookup open_configured(std::filesystem::path const& path)
{
    return open_cached(AT_FDCWD, path.native(),
                       [&] { return finish(::open(path.c_str(), open_flags)); });
}

bool read_span(int fd, std::uint64_t offset, std::uint64_t length, std::string& out)
{
    out.resize(length);
    std::uint64_t done = 0;
    while (done < length) {
        auto const n =
            ::pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += static_cast<std::uint64_t>(n);
    }
    return true;
}

} // namespace hello_async
