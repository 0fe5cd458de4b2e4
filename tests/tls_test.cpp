// HTTPS over real sockets: the daemon with two certificates from a CA made at test time, asked
// by our OpenSSL client, `openssl s_client`, curl and testssl.sh.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <openssl/ssl.h>
#include <regex>

#include "support/daemon_process.hpp"
#include "support/http_client.hpp"
#include "support/tls_support.hpp"

namespace hello_async::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

class tls_site : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        pki_ = std::make_unique<test_pki>(dir_.path() / "pki");
        a_ = pki_->issue("a", {"localhost", "*.a.test"});
        b_ = pki_->issue("b", {"b.test"}, -1, 90, true);
        big_ = std::string(std::size_t{1} << 20, 'x');
        for (std::size_t i = 0; i < big_.size(); i += 61)
            big_[i] = static_cast<char>('a' + (i / 61) % 26);
        dir_.write("pub/big.bin", big_);
        dir_.write("pub/small.txt", "0123456789abcdefghij");
    }

    /// Starts the daemon with a plain and a TLS socket; `tls` adds lines to [tls].
    void start(std::string const& tls = {}, test_site site = {})
    {
        site.extra += "[[static]]\nprefix = \"/pub/\"\ndir = \"pub\"\n\n"
                      "[tls]\nlisten = [\"127.0.0.1:0\"]\nhsts = \"max-age=63072000\"\n" +
                      tls + "\n[[tls.certificate]]\nchain = \"" + a_.chain.string() +
                      "\"\nkey = \"" + a_.key.string() + "\"\n\n[[tls.certificate]]\nchain = \"" +
                      b_.chain.string() + "\"\nkey = \"" + b_.key.string() + "\"\n";
        auto const config = dir_.write("test.toml", test_config(site));
        daemon_ =
            std::make_unique<daemon_process>(std::vector<std::string>{"--config", config.string()});
        port_ = daemon_->wait_for_port();
        std::smatch match;
        auto const text = daemon_->output();
        static std::regex const tls_port{R"(:([0-9]+) \(TLS\))"};
        ASSERT_TRUE(std::regex_search(text, match, tls_port)) << text;
        tls_port_ = static_cast<unsigned short>(std::stoi(match[1].str()));
    }

    void TearDown() override
    {
        if (HasFailure() && daemon_)
            std::cerr << "daemon output:\n" << daemon_->output().substr(0, 20000);
    }

    [[nodiscard]] tls_client connect(tls_client::options const& how = {}) const
    {
        return tls_client{tls_port_, pki_->ca(), how};
    }

    /// `openssl s_client` against the TLS port with `args`; its whole output.
    [[nodiscard]] std::string s_client(std::vector<std::string> const& args) const
    {
        std::vector<std::string> argv{"openssl",  "s_client",
                                      "-connect", "127.0.0.1:" + std::to_string(tls_port_),
                                      "-CAfile",  pki_->ca().string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_program(argv, "", 20s).output;
    }

    temp_dir dir_;
    std::unique_ptr<test_pki> pki_;
    test_pki::issued a_;
    test_pki::issued b_;
    std::string big_;
    std::unique_ptr<daemon_process> daemon_;
    unsigned short port_{0};
    unsigned short tls_port_{0};
};

TEST_F(tls_site, serves_the_same_pages_over_tls_with_hsts)
{
    start();
    auto client = connect();
    auto const page = client.get("/");
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.body, hello_page());
    EXPECT_EQ(page.header("strict-transport-security"), "max-age=63072000");
    EXPECT_EQ(client.protocol(), "TLSv1.3");
    auto const missing = client.get("/nothing-here");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.body, not_found_page());
    // Plain HTTP on the other socket still works, without HSTS (RFC 6797 §7.2).
    http_client plain{port_};
    auto const over_plain = plain.get("/");
    EXPECT_EQ(over_plain.status, 200);
    EXPECT_FALSE(over_plain.has("strict-transport-security"));
}

TEST_F(tls_site, speaks_tls_1_2_and_1_3_and_refuses_1_0_and_1_1)
{
    start();
    for (auto const* version : {"-tls1_2", "-tls1_3"}) {
        auto const out = s_client({version, "-servername", "localhost"});
        EXPECT_NE(out.find("Verify return code: 0 (ok)"), std::string::npos) << version << out;
        auto const expected =
            std::string{"New, TLSv1."} + (version[6] == '2' ? "2" : "3") + ", Cipher is ";
        EXPECT_NE(out.find(expected), std::string::npos) << out;
    }
    for (auto const* version : {"-tls1", "-tls1_1"}) {
        // SECLEVEL=0 lets our client offer the old version at all; the server must refuse it.
        auto const out = s_client({version, "-cipher", "DEFAULT@SECLEVEL=0"});
        EXPECT_NE(out.find("alert protocol version"), std::string::npos) << version << out;
        EXPECT_NE(out.find("Cipher is (NONE)"), std::string::npos) << out;
    }
}

TEST_F(tls_site, offers_only_the_configured_suites)
{
    start();
    auto const weak = s_client({"-tls1_2", "-cipher", "AES128-SHA"});
    EXPECT_NE(weak.find("handshake failure"), std::string::npos) << weak;
    auto const chacha = s_client({"-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"});
    EXPECT_NE(chacha.find("Cipher is TLS_CHACHA20_POLY1305_SHA256"), std::string::npos) << chacha;
    auto const ccm = s_client({"-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256"});
    EXPECT_EQ(ccm.find("Cipher is TLS_AES_128_CCM_SHA256"), std::string::npos) << ccm;
}

TEST_F(tls_site, prefers_h2_by_alpn_and_refuses_a_client_with_neither)
{
    start();
    EXPECT_EQ(connect({.alpn = {"http/1.1", "h2"}}).alpn(), "h2");
    EXPECT_EQ(connect({.alpn = {"http/1.1"}}).alpn(), "http/1.1");
    try {
        auto const other = connect({.alpn = {"spdy/3"}});
        FAIL() << "a client offering neither h2 nor http/1.1 was accepted";
    } catch (std::runtime_error const& e) {
        EXPECT_NE(std::string{e.what()}.find("no application protocol"), std::string::npos)
            << e.what();
    }
}

TEST_F(tls_site, offers_only_http_1_1_when_http2_is_off)
{
    test_site site;
    site.extra = "[http2]\nenabled = false\n";
    start({}, site);
    EXPECT_EQ(connect({.alpn = {"h2", "http/1.1"}}).alpn(), "http/1.1");
    try {
        auto const only_h2 = connect({.alpn = {"h2"}});
        FAIL() << "a client offering only h2 was accepted with HTTP/2 off";
    } catch (std::runtime_error const& e) {
        EXPECT_NE(std::string{e.what()}.find("no application protocol"), std::string::npos)
            << e.what();
    }
}

TEST_F(tls_site, picks_the_certificate_by_server_name)
{
    start();
    EXPECT_EQ(connect({.sni = "b.test"}).peer_serial(), b_.serial);
    EXPECT_EQ(connect({.sni = "B.TEST"}).peer_serial(), b_.serial);
    EXPECT_EQ(connect({.sni = "x.a.test"}).peer_serial(), a_.serial);
    EXPECT_EQ(connect({.sni = "localhost"}).peer_serial(), a_.serial);
    // No SNI, or a name no certificate has: the first one.
    EXPECT_EQ(connect({.sni = ""}).peer_serial(), a_.serial);
    EXPECT_EQ(connect({.sni = "other.test"}).peer_serial(), a_.serial);
    EXPECT_EQ(connect({.sni = "x.y.a.test"}).peer_serial(), a_.serial);
}

TEST_F(tls_site, resumes_sessions_with_tickets_on_tls_1_3_and_1_2)
{
    start();
    for (int const version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        std::shared_ptr<ssl_session_st> session;
        {
            auto first = connect({.max_version = version});
            EXPECT_EQ(first.get("/").status, 200);
            EXPECT_FALSE(first.session_reused());
            session = first.session();
        }
        // The daemon runs two I/O threads: resumption must work whichever takes the client.
        for (int i = 0; i < 4; ++i) {
            auto again = connect({.resume = session.get(), .max_version = version});
            EXPECT_TRUE(again.session_reused()) << "TLS version " << std::hex << version;
            EXPECT_EQ(again.get("/").status, 200);
        }
    }
}

TEST_F(tls_site, cuts_off_a_stalled_handshake_which_holds_a_connection_slot)
{
    start("handshake_timeout = \"1s\"\n", {.limits = "max_connections = 1\n"});
    http_client stalled{tls_port_, "127.0.0.1", 5s};
    // The first bytes of a ClientHello record, then nothing.
    stalled.send(std::string{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11});
    auto const started = steady::now();
    // The only slot is taken by the stalled handshake: this client waits in the backlog
    // until the timeout frees it.
    auto waiting = connect();
    EXPECT_GE(steady::now() - started, 800ms);
    EXPECT_EQ(waiting.get("/").status, 200);
    auto const rest = stalled.read_until_close();
    EXPECT_TRUE(rest.closed);
    EXPECT_LT(steady::now() - started, 4s);
    EXPECT_TRUE(daemon_->wait_for_output("TLS handshake with 127.0.0.1:"));
}

TEST_F(tls_site, a_client_stalled_inside_a_record_holds_up_no_other_connection)
{
    // One I/O thread: whatever blocked it would hold up every other client.
    start("handshake_timeout = \"5s\"\n", {.threads = 1});
    http_client stalled{tls_port_, "127.0.0.1", 10s};
    stalled.send(std::string{"\x16\x03\x01", 3}); // a record header, cut short
    auto const started = steady::now();
    EXPECT_EQ(connect().get("/").status, 200);
    EXPECT_LT(steady::now() - started, 2s);
    EXPECT_TRUE(stalled.read_until_close().closed);
}

TEST_F(tls_site, answers_plain_http_on_the_tls_port_with_400_and_closes)
{
    start();
    http_client plain{tls_port_, "127.0.0.1", 5s};
    plain.send(request("GET", "/"));
    auto const got = plain.read_until_close();
    EXPECT_TRUE(got.closed);
    EXPECT_TRUE(got.bytes.starts_with("HTTP/1.1 400 Bad Request\r\n")) << got.bytes;
    EXPECT_NE(got.bytes.find("Connection: close"), std::string::npos);
    EXPECT_TRUE(got.bytes.ends_with("\r\n\r\nThis port expects HTTPS.\n")) << got.bytes;
    EXPECT_TRUE(daemon_->wait_for_output("\"GET / HTTP/1.1\" 400"));
}

TEST_F(tls_site, closes_on_garbage_and_truncated_records_and_keeps_serving)
{
    // A truncated handshake message is waited for, until the handshake timeout.
    start("handshake_timeout = \"1s\"\n");
    std::vector<std::string> const hostile{
        std::string{"\x00\x01\x02\x03garbage", 11},
        std::string{"\x16\x03\x01\x00\x05hello"}, // the start of a message that never ends
        std::string{"\x16\x03\x03\xff\xff", 5} + std::string(300, 'A'), // oversized record
    };
    for (auto const& bytes : hostile) {
        http_client raw{tls_port_, "127.0.0.1", 5s};
        raw.send(bytes);
        auto const started = steady::now();
        auto const got = raw.read_until_close();
        EXPECT_TRUE(got.closed) << "stayed open after " << bytes.size() << " hostile bytes";
        EXPECT_LT(steady::now() - started, 3s);
        EXPECT_EQ(got.bytes.find("HTTP/1.1"), std::string::npos);
    }
    {
        // A client that leaves in the middle of its request.
        auto leaving = connect();
        leaving.send("GET / HTTP/1.1\r\nHo");
    }
    EXPECT_EQ(connect().get("/").status, 200);
}

TEST_F(tls_site, keeps_alive_and_answers_pipelined_requests_in_order)
{
    start();
    auto client = connect();
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(client.get("/").body, hello_page());
    client.send(request("GET", "/pub/small.txt") + request("GET", "/nothing") +
                request("GET", "/", "Connection: close\r\n"));
    auto const first = client.read_response();
    auto const second = client.read_response();
    auto const third = client.read_response();
    EXPECT_EQ(first.body, "0123456789abcdefghij");
    EXPECT_EQ(second.status, 404);
    EXPECT_EQ(third.body, hello_page());
    EXPECT_TRUE(client.read_until_close().closed);
}

TEST_F(tls_site, sends_large_files_ranges_and_delayed_answers)
{
    start({}, {.sleep_delay = "200ms"});
    auto client = connect();
    auto const whole = client.get("/pub/big.bin");
    EXPECT_EQ(whole.status, 200);
    EXPECT_TRUE(whole.body == big_) << "1 MiB body differs, size " << whole.body.size();
    auto const part = client.get("/pub/big.bin", "Range: bytes=100000-299999\r\n");
    EXPECT_EQ(part.status, 206);
    EXPECT_TRUE(part.body == big_.substr(100000, 200000));
    // Two large ranges: multipart parts sent from the file, the closing delimiter last.
    auto const parts = client.get("/pub/big.bin", "Range: bytes=0-99999,200000-299999\r\n");
    EXPECT_EQ(parts.status, 206);
    auto const type = parts.header("content-type");
    auto const boundary = type.substr(type.find("boundary=") + 9);
    EXPECT_NE(parts.body.find(big_.substr(200000, 100000)), std::string::npos);
    EXPECT_TRUE(parts.body.ends_with("\r\n--" + boundary + "--\r\n"))
        << parts.body.substr(parts.body.size() - 100);
    auto const etag = whole.header("etag");
    EXPECT_EQ(client.get("/pub/big.bin", "If-None-Match: " + etag + "\r\n").status, 304);
    EXPECT_EQ(client.get("/sleep").body, hello_page());
    // curl, as a client that is not ours.
    auto const fetched = dir_.path() / "fetched.bin";
    auto const curl =
        run_program({"curl", "-sS", "--cacert", pki_->ca().string(), "-o", fetched.string(), "-w",
                     "%{http_code} %{ssl_verify_result}",
                     "https://localhost:" + std::to_string(tls_port_) + "/pub/big.bin"});
    EXPECT_EQ(curl.output, "200 0");
    EXPECT_TRUE(read_file(fetched) == big_);
}

TEST_F(tls_site, closes_an_idle_connection_after_the_keepalive_timeout)
{
    start({}, {.limits = "keepalive_timeout = \"1s\"\n"});
    auto client = connect();
    EXPECT_EQ(client.get("/").status, 200);
    auto const started = steady::now();
    EXPECT_TRUE(client.read_until_close().closed);
    EXPECT_GE(steady::now() - started, 800ms);
    EXPECT_LT(steady::now() - started, 3s);
    // A parked connection wakes up for each request.
    auto again = connect();
    EXPECT_EQ(again.get("/").status, 200);
    EXPECT_EQ(again.get("/").status, 200);
}

TEST_F(tls_site, a_stop_closes_idle_tls_connections_and_lets_requests_finish)
{
    start({}, {.sleep_delay = "1s"});
    auto idle = connect();
    EXPECT_EQ(idle.get("/").status, 200);
    auto sleeping = connect();
    sleeping.send(request("GET", "/sleep"));
    // The handshake is done and the request on its way: a fresh connection is never idle.
    daemon_->signal(SIGTERM);
    auto const closed = idle.read_until_close();
    EXPECT_TRUE(closed.closed);
    EXPECT_TRUE(closed.bytes.empty());
    auto const answered = sleeping.read_response();
    EXPECT_EQ(answered.status, 200);
    EXPECT_EQ(answered.body, hello_page());
    EXPECT_EQ(answered.header("connection"), "close");
    EXPECT_EQ(daemon_->wait_exit(), 0);
}

TEST_F(tls_site, reload_serves_a_new_certificate_to_new_connections_only)
{
    start();
    auto before = connect();
    EXPECT_EQ(before.get("/").status, 200);
    auto const renewed = pki_->issue("a", {"localhost", "*.a.test"});
    ASSERT_NE(renewed.serial, a_.serial);
    daemon_->signal(SIGHUP);
    ASSERT_TRUE(daemon_->wait_for_output("reload: configuration"));
    EXPECT_EQ(connect().peer_serial(), renewed.serial);
    EXPECT_EQ(before.get("/").status, 200);
    EXPECT_EQ(before.peer_serial(), a_.serial);
}

TEST_F(tls_site, a_certificate_that_fails_to_load_on_reload_keeps_the_old_one)
{
    start();
    {
        std::ofstream broken{a_.chain};
        broken << "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
    }
    daemon_->signal(SIGHUP);
    ASSERT_TRUE(daemon_->wait_for_output("reload failed, keeping the running configuration"));
    EXPECT_TRUE(daemon_->wait_for_output("tls.certificate[1].chain: bad PEM certificate: "))
        << daemon_->output();
    EXPECT_EQ(connect().peer_serial(), a_.serial);
}

TEST_F(tls_site, redirects_plain_requests_to_https_when_asked)
{
    start({}, {.server = "redirect_to_https = true\n"});
    http_client fresh{port_};
    fresh.send("GET /some/page?x=1 HTTP/1.1\r\nHost: Example.com:" + std::to_string(port_) +
               "\r\n\r\n");
    auto const redirect = fresh.read_response();
    EXPECT_EQ(redirect.status, 308);
    EXPECT_EQ(redirect.header("location"),
              "https://example.com:" + std::to_string(tls_port_) + "/some/page?x=1");
    // HTTP/1.0 without Host names no host to redirect to: the page itself.
    http_client old{port_};
    old.send("GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(old.read_response().status, 200);
    // Over TLS the page itself.
    EXPECT_EQ(connect().get("/").status, 200);
}

TEST_F(tls_site, sends_files_with_kernel_tls_where_the_kernel_has_it)
{
    if (!fs::exists("/proc/net/tls_stat")) {
        std::cerr << "\n*** SKIPPED: this kernel has no TLS (kTLS) support (no /proc/net/tls_stat;"
                     " try `modprobe tls`): SSL_sendfile is not tested here ***\n\n";
        GTEST_SKIP() << "kernel TLS unavailable: SSL_sendfile untested on this host";
    }
    start();
    auto counter = [] {
        std::ifstream stat{"/proc/net/tls_stat"};
        std::string name;
        long long value = 0;
        long long total = 0;
        while (stat >> name >> value) {
            if (name == "TlsTxSw" || name == "TlsTxDevice")
                total += value;
        }
        return total;
    };
    auto const before = counter();
    EXPECT_TRUE(connect().get("/pub/big.bin").body == big_);
    EXPECT_GT(counter(), before) << "the daemon did not switch the socket to kernel TLS";
}

} // namespace
} // namespace hello_async::testing
