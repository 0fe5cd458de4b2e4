#include "hello_async/static_files.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>

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
    return out;
}

} // namespace

file_lookup open_beneath(int dir_fd, std::string_view relative)
{
    if (relative.empty())
        relative = ".";
    if (relative.find('\0') != std::string_view::npos)
        return {};
    std::string const name{relative};
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

file_lookup open_configured(std::filesystem::path const& path)
{
    return finish(::open(path.c_str(), open_flags));
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
