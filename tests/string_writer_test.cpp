#include "hello_async/http/string_writer.hpp"

#include <gtest/gtest.h>

#include <string>

using hello_async::string_writer;

TEST(string_writer, appends_after_what_the_string_held_and_keeps_only_what_was_written)
{
    std::string out = "kept|";
    {
        string_writer writer{out, 64};
        writer.put("abc");
        writer.put('-');
        writer.put(std::string_view{});
        writer.put("def");
    }
    EXPECT_EQ(out, "kept|abc-def");
}

TEST(string_writer, pieces_beyond_the_estimate_grow_the_string)
{
    std::string out;
    std::string expected;
    {
        string_writer writer{out, 0};
        for (int i = 0; i < 1000; ++i) {
            writer.put(i % 2 == 0 ? std::string_view{"0123456789"} : std::string_view{"x"});
            writer.put(';');
            expected += i % 2 == 0 ? "0123456789;" : "x;";
        }
        std::string const large(10000, 'L');
        writer.put(large);
        expected += large;
    }
    EXPECT_EQ(out, expected);
}
