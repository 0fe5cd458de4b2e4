#pragma once
// For the benchmark's helper programs: a file read whole with read(2), no iostreams (the first
// stream alone maps a quarter MiB of libstdc++, which the library floor must not).

#include <cstddef>
#include <fcntl.h>
#include <string>
#include <unistd.h>

/// The file's bytes; empty when it cannot be opened.
inline std::string read_whole_file(char const* path)
{
    std::string bytes;
    int const fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bytes;
    char chunk[65536];
    for (ssize_t got; (got = ::read(fd, chunk, sizeof chunk)) > 0;)
        bytes.append(chunk, static_cast<std::size_t>(got));
    ::close(fd);
    return bytes;
}
