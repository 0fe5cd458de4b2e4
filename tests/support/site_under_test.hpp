#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "support/daemon_process.hpp"
#include "support/http_client.hpp"

namespace hello_async::testing {

/// The daemon serving the repository's pages and a static directory of test files, started
/// afresh for each test.
class site_under_test : public ::testing::Test
{
  protected:
    void SetUp() override { start(); }

    void start(std::string const& limits = {}, std::vector<std::string> wrapper = {})
    {
        big_ = std::string(300 * 1024, 'x');
        for (std::size_t i = 0; i < big_.size(); i += 64)
            big_[i] = static_cast<char>('a' + (i / 64) % 26);
        dir_.write("pub/big.bin", big_);
        dir_.write("pub/page.txt", "0123456789abcdefghij");
        dir_.write("pub/style.css", "body { color: red }\n");
        dir_.write("pub/style.css.gz", "GZIPPED");
        dir_.write("pub/style.css.br", "BROTLI");
        auto const config =
            dir_.write("test.toml", test_config("[[static]]\nprefix = \"/pub/\"\ndir = \"pub\"\n"
                                                "cache_control = \"max-age=60\"\n",
                                                limits));
        launch how;
        how.args = {"--config", config.string()};
        how.wrapper = std::move(wrapper);
        daemon_ = std::make_unique<daemon_process>(how);
        port_ = daemon_->wait_for_port();
    }

    void TearDown() override
    {
        if (HasFailure() && daemon_)
            std::cerr << "daemon output:\n" << daemon_->output().substr(0, 20000);
    }

    /// Sends raw bytes on a fresh connection; returns everything until the server closes.
    received_until_close exchange(std::string const& bytes)
    {
        http_client client{port_, "127.0.0.1", std::chrono::seconds{5}};
        client.send(bytes);
        return client.read_until_close();
    }

    temp_dir dir_;
    std::string big_;
    std::unique_ptr<daemon_process> daemon_;
    unsigned short port_{0};
};

} // namespace hello_async::testing
