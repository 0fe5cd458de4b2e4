#include "hello_async/http/mime_types.hpp"

#include <gtest/gtest.h>

namespace hello_async {
namespace {

TEST(mime_types, common_web_types)
{
    EXPECT_EQ(mime_type_for("hello.html"), "text/html; charset=utf-8");
    EXPECT_EQ(mime_type_for("/a/b/style.css"), "text/css; charset=utf-8");
    EXPECT_EQ(mime_type_for("app.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(mime_type_for("data.json"), "application/json");
    EXPECT_EQ(mime_type_for("logo.png"), "image/png");
    EXPECT_EQ(mime_type_for("photo.jpg"), "image/jpeg");
    EXPECT_EQ(mime_type_for("icon.svg"), "image/svg+xml");
    EXPECT_EQ(mime_type_for("font.woff2"), "font/woff2");
    EXPECT_EQ(mime_type_for("readme.txt"), "text/plain; charset=utf-8");
}

TEST(mime_types, extension_case_does_not_matter)
{
    EXPECT_EQ(mime_type_for("INDEX.HTML"), "text/html; charset=utf-8");
    EXPECT_EQ(mime_type_for("Photo.JpG"), "image/jpeg");
}

TEST(mime_types, unknown_or_missing_extension_is_octet_stream)
{
    EXPECT_EQ(mime_type_for("archive.xyz"), "application/octet-stream");
    EXPECT_EQ(mime_type_for("Makefile"), "application/octet-stream");
    EXPECT_EQ(mime_type_for(".bashrc"), "application/octet-stream");
    EXPECT_EQ(mime_type_for("dir.html/file"), "application/octet-stream");
    EXPECT_EQ(mime_type_for("trailing."), "application/octet-stream");
}

} // namespace
} // namespace hello_async
