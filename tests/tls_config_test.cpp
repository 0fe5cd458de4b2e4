// [tls] in the config file, certificates as loaded (files, credentials, errors), and the
// choice of certificate by server name.
#include "hello_async/http/config.hpp"
#include "hello_async/server/tls_context.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "support/daemon_process.hpp"
#include "support/tls_support.hpp"

namespace hello_async {
namespace {

namespace fs = std::filesystem;
using testing::temp_dir;
using testing::test_pki;

TEST(certificate_names, match_exactly_or_by_a_wildcard_in_the_first_label)
{
    struct row
    {
        char const* pattern;
        char const* host;
        bool matches;
    };
    for (auto const& r : {
             row{"example.com", "example.com", true},
             row{"example.com", "EXAMPLE.com", true},
             row{"example.com", "example.com.", true},
             row{"example.com", "www.example.com", false},
             row{"*.example.com", "www.example.com", true},
             row{"*.example.com", "WWW.Example.COM", true},
             row{"*.example.com", "example.com", false},
             row{"*.example.com", "a.b.example.com", false},
             row{"*.example.com", ".example.com", false},
             row{"*.example.com", "wwwexample.com", false},
             row{"", "example.com", false},
             row{"example.com", "", false},
         })
    {
        EXPECT_EQ(certificate_name_matches(r.pattern, r.host), r.matches)
            << r.pattern << " vs " << r.host;
    }
}

TEST(certificate_names, pick_exact_before_wildcard_and_the_first_otherwise)
{
    std::vector<std::vector<std::string>> const names{
        {"default.test"}, {"*.shop.test"}, {"www.shop.test", "shop.test"}, {"*.shop.test"}};
    EXPECT_EQ(pick_certificate(names, "www.shop.test"), 2U);
    EXPECT_EQ(pick_certificate(names, "cart.shop.test"), 1U);
    EXPECT_EQ(pick_certificate(names, "shop.test"), 2U);
    EXPECT_EQ(pick_certificate(names, "other.test"), 0U);
    EXPECT_EQ(pick_certificate(names, ""), 0U);
}

/// A config file in a temporary directory, and certificates from a test CA.
class tls_config_file : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        pki_ = std::make_unique<test_pki>(dir_.path() / "pki");
        ::unsetenv("CREDENTIALS_DIRECTORY");
    }
    void TearDown() override { ::unsetenv("CREDENTIALS_DIRECTORY"); }

    config parse(std::string const& text) const
    {
        return parse_config(text, dir_.path() / "test.toml");
    }

    /// The config_error message of loading `text` and its certificates, or "" when it loads.
    std::string load_error(std::string const& text) const
    {
        try {
            auto const cfg = parse(text);
            static_cast<void>(tls_context::load(cfg, nullptr));
            return {};
        } catch (config_error const& e) {
            return e.what();
        }
    }

    static std::string certificate(std::string const& chain, std::string const& key)
    {
        return "[[tls.certificate]]\nchain = \"" + chain + "\"\nkey = \"" + key + "\"\n";
    }

    temp_dir dir_;
    std::unique_ptr<test_pki> pki_;
};

TEST_F(tls_config_file, has_defaults_that_serve_no_tls_until_asked)
{
    auto const cfg = parse("");
    EXPECT_EQ(cfg.tls.socket_name, "https");
    EXPECT_TRUE(cfg.tls.listen.empty());
    EXPECT_EQ(cfg.tls.min_version, tls_1_2);
    EXPECT_EQ(cfg.tls.max_version, tls_1_3);
    EXPECT_EQ(cfg.tls.handshake_timeout, std::chrono::seconds{10});
    EXPECT_TRUE(cfg.tls.hsts.empty());
    EXPECT_FALSE(cfg.server.redirect_to_https);
    // With none configured, a TLS socket uses the credentials of the example drop-in.
    auto const used = certificates_in_use(cfg);
    ASSERT_EQ(used.size(), 1U);
    EXPECT_EQ(used[0].chain.credential, "tls.chain");
    EXPECT_EQ(used[0].key.credential, "tls.key");
}

TEST_F(tls_config_file, reads_the_tls_table)
{
    auto const cfg = parse("[server]\nredirect_to_https = true\n"
                           "[tls]\nlisten = [\"[::]:7443\", \"127.0.0.1:8443\"]\n"
                           "socket_name = \"secure\"\nprotocols = [\"TLSv1.3\"]\n"
                           "handshake_timeout = \"3s\"\nhsts = \"max-age=31536000\"\n" +
                           certificate("certs/site.pem", "credential:site.key"));
    EXPECT_TRUE(cfg.server.redirect_to_https);
    EXPECT_EQ(cfg.tls.listen.size(), 2U);
    EXPECT_EQ(cfg.tls.socket_name, "secure");
    EXPECT_EQ(cfg.tls.min_version, tls_1_3);
    EXPECT_EQ(cfg.tls.max_version, tls_1_3);
    EXPECT_EQ(cfg.tls.handshake_timeout, std::chrono::seconds{3});
    EXPECT_EQ(cfg.tls.hsts, "max-age=31536000");
    ASSERT_EQ(cfg.tls.certificates.size(), 1U);
    EXPECT_EQ(cfg.tls.certificates[0].chain.file, dir_.path() / "certs/site.pem");
    EXPECT_EQ(cfg.tls.certificates[0].key.credential, "site.key");
    EXPECT_TRUE(cfg.tls.certificates[0].key.file.empty());
    EXPECT_EQ(cfg.tls.certificates[0].key.origin,
              (dir_.path() / "test.toml").string() + ":11:7: tls.certificate[1].key");
}

TEST_F(tls_config_file, names_file_line_and_key_of_a_bad_tls_setting)
{
    auto const source = (dir_.path() / "test.toml").string();
    auto error_of = [this](std::string const& text) {
        try {
            static_cast<void>(parse(text));
            return std::string{};
        } catch (config_error const& e) {
            return std::string{e.what()};
        }
    };
    EXPECT_EQ(
        error_of("[tls]\nprotocols = [\"TLSv1.1\"]\n"),
        source +
            R"(:2:13: tls.protocols: unsupported protocol "TLSv1.1" ("TLSv1.2" or "TLSv1.3"))");
    EXPECT_EQ(
        error_of("[tls]\n" + certificate("a.pem", "credential:../etc/shadow")),
        source +
            R"(:4:7: tls.certificate[1].key: bad credential name "../etc/shadow": must be a plain file name)");
    for (auto const* name : {"credential:..", "credential:.", "credential:"}) {
        EXPECT_NE(error_of("[tls]\n" + certificate(name, "k.pem")).find("bad credential name"),
                  std::string::npos)
            << name;
    }
    EXPECT_EQ(error_of("[tls]\n[[tls.certificate]]\nkey = \"k.pem\"\n"),
              source + ":2:1: tls.certificate[1].chain: missing (required)");
    EXPECT_EQ(error_of("[tls]\n" + certificate("a.pem", "k.pem") + "keyfile = \"x\"\n"),
              source + ":5:1: tls.certificate[1].keyfile: unknown key");
    EXPECT_EQ(error_of("[tls]\nhandshake_timeout = \"0s\"\n"),
              source + ":2:21: tls.handshake_timeout: must be longer than 0");
    EXPECT_EQ(
        error_of("[tls]\nlisten = [\"7443\"]\n"),
        source + R"(:2:10: tls.listen: bad address "7443": expected "HOST:PORT" or "[IPV6]:PORT")");
}

TEST_F(tls_config_file, loads_certificates_from_files_and_credentials)
{
    auto const a = pki_->issue("a", {"a.test"});
    auto const b = pki_->issue("b", {"b.test", "*.b.test"}, -1, 90, true);
    fs::create_directories(dir_.path() / "creds");
    fs::copy_file(b.chain, dir_.path() / "creds/site.chain");
    fs::copy_file(b.key, dir_.path() / "creds/site.key");
    ::setenv("CREDENTIALS_DIRECTORY", (dir_.path() / "creds").c_str(), 1);
    auto const cfg = parse("[tls]\n" + certificate(a.chain.string(), a.key.string()) +
                           certificate("credential:site.chain", "credential:site.key"));
    auto const context = tls_context::load(cfg, nullptr);
    ASSERT_EQ(context->certificates().size(), 2U);
    EXPECT_EQ(context->certificates()[0].serial, a.serial);
    EXPECT_EQ(context->certificates()[1].serial, b.serial);
    EXPECT_EQ(context->certificates()[1].names, (std::vector<std::string>{"b.test", "*.b.test"}));
    EXPECT_TRUE(context->validity_warnings(std::chrono::system_clock::now()).empty());
}

TEST_F(tls_config_file, names_the_file_line_and_key_of_a_certificate_that_cannot_be_used)
{
    auto const a = pki_->issue("a", {"a.test"});
    auto const b = pki_->issue("b", {"b.test"});
    auto const source = (dir_.path() / "test.toml").string();
    auto const missing = dir_.path() / "missing.pem";
    EXPECT_EQ(load_error("[tls]\n" + certificate(missing.string(), a.key.string())),
              source + ":3:9: tls.certificate[1].chain: cannot open " + missing.string() +
                  ": No such file or directory");
    auto const not_pem = dir_.write("not.pem", "hello\n");
    EXPECT_EQ(load_error("[tls]\n" + certificate(not_pem.string(), a.key.string())),
              source + ":3:9: tls.certificate[1].chain: no PEM certificate in it");
    EXPECT_TRUE(
        load_error("[tls]\n" + certificate(a.chain.string(), not_pem.string()))
            .starts_with(source + ":4:7: tls.certificate[1].key: no PEM private key in it ("));
    EXPECT_EQ(load_error("[tls]\n" + certificate(a.chain.string(), b.key.string())),
              source + ":4:7: tls.certificate[1].key: the key does not match the certificate in " +
                  a.chain.string());
    // A credential without $CREDENTIALS_DIRECTORY fails the start, saying where it comes from.
    auto const no_credentials =
        load_error("[tls]\n" + certificate(a.chain.string(), "credential:k"));
    EXPECT_NE(no_credentials.find(
                  "tls.certificate[1].key: credential k: $CREDENTIALS_DIRECTORY is not set"),
              std::string::npos)
        << no_credentials;
}

TEST_F(tls_config_file, check_config_leaves_unreadable_credentials_to_the_start)
{
    auto const a = pki_->issue("a", {"a.test"});
    auto const cfg = parse("[tls]\n" + certificate(a.chain.string(), "credential:tls.key"));
    auto report = check_tls_certificates(cfg);
    ASSERT_EQ(report.notes.size(), 1U);
    EXPECT_NE(
        report.notes[0].find("tls.certificate[1].key: credential tls.key: checked at start only"),
        std::string::npos)
        << report.notes[0];
    // A directory that exists but lacks the credential is an error, not a note.
    ::setenv("CREDENTIALS_DIRECTORY", dir_.path().c_str(), 1);
    EXPECT_THROW(static_cast<void>(check_tls_certificates(cfg)), config_error);
    // A mismatched pair given as files fails the check as it would fail the start.
    auto const b = pki_->issue("b", {"b.test"});
    auto const mismatched = parse("[tls]\n" + certificate(a.chain.string(), b.key.string()));
    EXPECT_THROW(static_cast<void>(check_tls_certificates(mismatched)), config_error);
}

TEST_F(tls_config_file, warns_about_expired_early_and_expiring_certificates_but_loads_them)
{
    auto const expired = pki_->issue("expired", {"old.test"}, -30, -1);
    auto const early = pki_->issue("early", {"new.test"}, 2, 60);
    auto const ending = pki_->issue("ending", {"soon.test"}, -60, 5);
    auto const fine = pki_->issue("fine", {"fine.test"});
    auto const cfg = parse("[tls]\n" + certificate(expired.chain.string(), expired.key.string()) +
                           certificate(early.chain.string(), early.key.string()) +
                           certificate(ending.chain.string(), ending.key.string()) +
                           certificate(fine.chain.string(), fine.key.string()));
    auto const context = tls_context::load(cfg, nullptr);
    auto const warnings = context->validity_warnings(std::chrono::system_clock::now());
    ASSERT_EQ(warnings.size(), 3U);
    EXPECT_NE(warnings[0].find("certificate old.test (serial " + expired.serial), std::string::npos)
        << warnings[0];
    EXPECT_NE(warnings[0].find(" expired on "), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[1].find(" is not valid before "), std::string::npos) << warnings[1];
    EXPECT_NE(warnings[2].find(" expires in 4 days"), std::string::npos) << warnings[2];
}

TEST_F(tls_config_file, check_config_exits_78_for_a_key_that_does_not_match)
{
    auto const a = pki_->issue("a", {"a.test"});
    auto const b = pki_->issue("b", {"b.test"});
    auto const config =
        dir_.write("site.toml", "[server]\nroot = \"" + testing::source_www().string() +
                                    "\"\n[tls]\n" + certificate(a.chain.string(), b.key.string()));
    auto const result = testing::run_daemon({"--check-config", "--config", config.string()});
    EXPECT_EQ(result.status, 78);
    EXPECT_NE(result.output.find(config.string() +
                                 ":6:7: tls.certificate[1].key: the key does not match"),
              std::string::npos)
        << result.output;
    auto const good =
        dir_.write("good.toml", "[server]\nroot = \"" + testing::source_www().string() +
                                    "\"\n[tls]\n" + certificate(a.chain.string(), "credential:k"));
    auto const checked = testing::run_daemon({"--check-config", "--config", good.string()});
    EXPECT_EQ(checked.status, 0) << checked.output;
    EXPECT_NE(checked.output.find("credential k: checked at start only"), std::string::npos)
        << checked.output;
}

} // namespace
} // namespace hello_async
