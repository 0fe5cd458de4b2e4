#include "hello_async/http/cli.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace hello_async {
namespace {

command_line parse(std::vector<char const*> args)
{
    return parse_command_line(std::span<char const* const>{args.data(), args.size()});
}

TEST(command_line, defaults_to_serving_the_packaged_config)
{
    auto const cli = parse({});
    EXPECT_EQ(cli.what, command_line::action::serve);
    EXPECT_EQ(cli.config_path, default_config_path);
    EXPECT_FALSE(cli.log.has_value());
}

TEST(command_line, options)
{
    auto const cli = parse({"--check-config", "--config", "x.toml", "--log-target=journal"});
    EXPECT_EQ(cli.what, command_line::action::check_config);
    EXPECT_EQ(cli.config_path, "x.toml");
    EXPECT_EQ(cli.log, log_target::journal);
    EXPECT_EQ(parse({"--config=y.toml"}).config_path, "y.toml");
    EXPECT_EQ(parse({"--version"}).what, command_line::action::version);
    EXPECT_EQ(parse({"--help"}).what, command_line::action::help);
}

TEST(command_line, mistakes_are_usage_errors)
{
    EXPECT_THROW(parse({"--config"}), usage_error);
    EXPECT_THROW(parse({"--frobnicate"}), usage_error);
    EXPECT_THROW(parse({"--log-target=syslog"}), usage_error);
    EXPECT_THROW(parse({"--config="}), usage_error);
}

} // namespace
} // namespace hello_async
