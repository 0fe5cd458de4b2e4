#include "hello_async/http/sandbox_check.hpp"

#include <sys/stat.h>

namespace hello_async {
namespace {

namespace fs = std::filesystem;

std::string octal_mode(mode_t mode)
{
    std::string out = "0000";
    auto bits = static_cast<unsigned>(mode) & 07777U;
    for (auto it = out.rbegin(); it != out.rend(); ++it, bits >>= 3U)
        *it = static_cast<char>('0' + (bits & 7U));
    return out;
}

bool below(fs::path const& path, std::string_view dir)
{
    auto const& text = path.native();
    return text == dir ||
           (text.starts_with(dir) && text.size() > dir.size() && text[dir.size()] == '/');
}

} // namespace

std::string sandbox_unreadable_reason(fs::path const& path,
                                      std::span<std::string_view const> hidden)
{
    std::error_code ec;
    // Symbolic links lead where the service would have to go.
    auto const real = fs::canonical(path, ec);
    if (ec)
        return {};
    for (auto const dir : hidden) {
        if (below(real, dir)) {
            return "below " + std::string{dir} +
                   ", which the service's sandbox hides (ProtectHome=yes, PrivateTmp=yes)";
        }
    }
    fs::path walked = "/";
    for (auto it = std::next(real.begin()); it != real.end(); ++it) {
        struct stat info
        {
        };
        if (::stat(walked.c_str(), &info) != 0)
            return {};
        if ((info.st_mode & S_IXOTH) == 0) {
            return walked.string() + " (mode " + octal_mode(info.st_mode) +
                   ") may not be searched by others";
        }
        walked /= *it;
    }
    struct stat info
    {
    };
    if (::stat(real.c_str(), &info) != 0)
        return {};
    bool const directory = S_ISDIR(info.st_mode);
    mode_t const needed = directory ? (S_IROTH | S_IXOTH) : S_IROTH;
    if ((info.st_mode & needed) != needed) {
        return std::string{directory ? "the directory" : "the file"} + " (mode " +
               octal_mode(info.st_mode) + ") may not be " +
               (directory ? "read and searched" : "read") + " by others";
    }
    return {};
}

std::vector<std::string> sandbox_warnings(config const& cfg,
                                          std::span<std::string_view const> hidden)
{
    std::vector<std::string> out;
    auto check = [&out, hidden](std::string const& what, fs::path const& path) {
        if (auto reason = sandbox_unreadable_reason(path, hidden); !reason.empty()) {
            out.push_back(what + " " + path.string() +
                          ": the service could not read it: " + reason);
        }
    };
    for (auto const& route : cfg.routes)
        check("route \"" + route.path + "\" file", route.file);
    for (auto const& st : cfg.statics)
        check("static \"" + st.prefix + "\" dir", st.dir);
    for (auto const& [status, page] : cfg.error_pages)
        check("errors." + std::to_string(status), page);
    for (auto const& cert : cfg.tls.certificates) {
        for (auto const* source : {&cert.chain, &cert.key}) {
            if (source->credential.empty())
                check(source->origin, source->file);
        }
    }
    return out;
}

} // namespace hello_async
