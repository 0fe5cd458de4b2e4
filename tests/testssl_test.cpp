// testssl.sh against the daemon's TLS socket: the scan an administrator would run first.
// Only in the dev pass (label testssl): it takes about 50 s, and the sanitizers add nothing to
// what it checks.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "support/daemon_process.hpp"
#include "support/tls_support.hpp"

namespace hello_async::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(testssl, finds_nothing_rated_medium_or_worse)
{
    temp_dir dir;
    test_pki pki{dir.path() / "pki"};
    auto const cert = pki.issue("site", {"localhost"});
    auto const config =
        dir.write("test.toml", test_config({.extra = "[tls]\nlisten = [\"127.0.0.1:0\"]\n"
                                                     "[[tls.certificate]]\nchain = \"" +
                                                     cert.chain.string() + "\"\nkey = \"" +
                                                     cert.key.string() + "\"\n",
                                            .server = "access_log = false\n"}));
    daemon_process daemon{{"--config", config.string()}};
    static_cast<void>(daemon.wait_for_port());
    std::smatch match;
    auto const text = daemon.output();
    ASSERT_TRUE(std::regex_search(text, match, std::regex{R"(:([0-9]+) \(TLS\))"}));
    auto const json = dir.path() / "testssl.json";
    auto const result =
        run_program({"testssl", "-p", "-s", "-U", "--quiet", "--color", "0", "--warnings", "batch",
                     "--add-ca", pki.ca().string(), "--ip", "127.0.0.1", "--jsonfile",
                     json.string(), "localhost:" + match[1].str()},
                    "", 300s);
    ASSERT_TRUE(fs::exists(json)) << result.output;
    auto const findings = read_file(json);
    std::regex const finding{
        R"re("id"\s*:\s*"([^"]+)"[^}]*"severity"\s*:\s*"(MEDIUM|HIGH|CRITICAL)"[^}]*"finding"\s*:\s*"([^"]*)")re"};
    std::string bad;
    for (auto it = std::sregex_iterator{findings.begin(), findings.end(), finding};
         it != std::sregex_iterator{}; ++it)
        bad += (*it)[1].str() + " (" + (*it)[2].str() + "): " + (*it)[3].str() + "\n";
    EXPECT_EQ(bad, "") << result.output;
    // The scan ran: it reports the protocols it found.
    EXPECT_NE(findings.find("\"TLS1_3\""), std::string::npos) << findings.substr(0, 4000);
}

} // namespace
} // namespace hello_async::testing
