#include "hello_async/http/sandbox_check.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <sys/stat.h>

#include "support/daemon_process.hpp"

namespace hello_async {
namespace {

namespace fs = std::filesystem;
using testing::temp_dir;

/// The permission checks alone: the temporary directory may itself be below /tmp.
constexpr std::array<std::string_view, 0> nothing_hidden{};

TEST(sandbox_check, world_readable_file_in_searchable_dirs_passes)
{
    temp_dir dir;
    fs::permissions(dir.path(), fs::perms{0755});
    auto const page = dir.write("page.html", "hi");
    fs::permissions(page, fs::perms{0644});
    EXPECT_EQ(sandbox_unreadable_reason(page, nothing_hidden), "");
}

TEST(sandbox_check, file_without_read_for_others_is_named_with_its_mode)
{
    temp_dir dir;
    fs::permissions(dir.path(), fs::perms{0755});
    auto const page = dir.write("page.html", "hi");
    fs::permissions(page, fs::perms{0640});
    EXPECT_EQ(sandbox_unreadable_reason(page, nothing_hidden),
              "the file (mode 0640) may not be read by others");
}

TEST(sandbox_check, directory_on_the_way_without_search_is_named)
{
    temp_dir dir;
    fs::permissions(dir.path(), fs::perms{0755});
    auto const page = dir.write("private/page.html", "hi");
    fs::permissions(page, fs::perms{0644});
    fs::permissions(dir.path() / "private", fs::perms{0750});
    EXPECT_EQ(sandbox_unreadable_reason(page, nothing_hidden),
              (dir.path() / "private").string() + " (mode 0750) may not be searched by others");
}

TEST(sandbox_check, static_dir_needs_read_and_search)
{
    temp_dir dir;
    fs::permissions(dir.path(), fs::perms{0755});
    fs::create_directories(dir.path() / "pub");
    fs::permissions(dir.path() / "pub", fs::perms{0711});
    EXPECT_EQ(sandbox_unreadable_reason(dir.path() / "pub", nothing_hidden),
              "the directory (mode 0711) may not be read and searched by others");
}

TEST(sandbox_check, places_the_sandbox_hides_are_named)
{
    temp_dir dir;
    fs::permissions(dir.path(), fs::perms{0755});
    auto const page = dir.write("page.html", "hi");
    fs::permissions(page, fs::perms{0644});
    // The temporary directory's own parent plays the hidden /home here.
    std::string const parent = fs::canonical(dir.path()).parent_path().string();
    std::array<std::string_view, 1> const hidden{parent};
    EXPECT_EQ(sandbox_unreadable_reason(page, hidden),
              "below " + parent +
                  ", which the service's sandbox hides (ProtectHome=yes, PrivateTmp=yes)");
    EXPECT_EQ(sandbox_unreadable_reason("/home/someone/www/index.html"), "")
        << "a path that does not exist is the loader's to report";
}

TEST(sandbox_check, warnings_name_every_unreadable_path_of_a_config)
{
    temp_dir dir;
    fs::permissions(dir.path(), fs::perms{0755});
    dir.write("hello.html", "hi");
    dir.write("404.html", "missing");
    dir.write("pub/a.css", "css");
    fs::permissions(dir.path() / "hello.html", fs::perms{0600});
    fs::permissions(dir.path() / "404.html", fs::perms{0644});
    fs::permissions(dir.path() / "pub", fs::perms{0700});
    auto const config_file =
        dir.write("site.toml", "[[route]]\npath = \"/\"\nfile = \"hello.html\"\n"
                               "[[static]]\nprefix = \"/pub/\"\ndir = \"pub\"\n"
                               "[errors]\n404 = \"404.html\"\n");
    auto const warnings = sandbox_warnings(load_config(config_file), nothing_hidden);
    ASSERT_EQ(warnings.size(), 2U);
    EXPECT_EQ(warnings[0], "route \"/\" file " + (dir.path() / "hello.html").string() +
                               ": the service could not read it: the file (mode 0600) may not "
                               "be read by others");
    EXPECT_EQ(warnings[1], "static \"/pub/\" dir " + (dir.path() / "pub").string() +
                               ": the service could not read it: the directory (mode 0700) may "
                               "not be read and searched by others");
}

} // namespace
} // namespace hello_async
