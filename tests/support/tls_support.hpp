#pragma once

#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.hpp"

struct ssl_st;
struct ssl_ctx_st;
struct ssl_session_st;

namespace hello_async::testing {

/// What a program printed (stdout and stderr together) and how it ended.
struct program_result
{
    int status{-1}; ///< exit status; 128+N for signal N; -1 when it had to be killed
    std::string output;
};

/// Runs `argv` (looked up in PATH) with `input` on its stdin; killed after `timeout`.
[[nodiscard]] program_result run_program(std::vector<std::string> const& argv,
                                         std::string const& input = {},
                                         std::chrono::seconds timeout = std::chrono::seconds{60});

/// A test CA, and certificates it issues, made with the openssl command at test time: no key is
/// ever committed.
class test_pki
{
  public:
    explicit test_pki(std::filesystem::path dir);

    struct issued
    {
        std::filesystem::path chain; ///< the certificate, then the CA (as an intermediate would be)
        std::filesystem::path key;
        std::string serial; ///< hex, as `openssl x509 -serial` prints it
    };

    /// A certificate for the DNS `names` (and 127.0.0.1), valid from `from_days` to `to_days`
    /// relative to now; ECDSA P-256 unless `rsa`. Files are `stem`.pem and `stem`.key.
    issued issue(std::string const& stem,
                 std::vector<std::string> const& names,
                 int from_days = -1,
                 int to_days = 90,
                 bool rsa = false) const;

    [[nodiscard]] std::filesystem::path const& ca() const { return ca_; }

  private:
    std::filesystem::path dir_;
    std::filesystem::path ca_;
    std::filesystem::path ca_key_;
};

/// A blocking TLS 1.2/1.3 client on OpenSSL, verifying the server against a CA, with
/// timeouts so that a test fails instead of hanging.
class tls_client
{
  public:
    struct options
    {
        std::string sni{"localhost"}; ///< empty: send no server name
        std::vector<std::string> alpn{};
        ssl_session_st* resume{nullptr}; ///< a session of an earlier connection to resume
        int max_version{0};              ///< e.g. TLS1_2_VERSION; 0: the newest
        std::chrono::seconds timeout{10};
    };

    /// Connects and completes the handshake; throws with OpenSSL's reason when it fails. The
    /// chain is verified against `ca`; which certificate came is for the test to check.
    tls_client(unsigned short port, std::filesystem::path const& ca, options const& how);
    tls_client(tls_client const&) = delete;
    tls_client& operator=(tls_client const&) = delete;
    ~tls_client();

    void send(std::string_view bytes);
    [[nodiscard]] http_response read_response(bool head_request = false);
    [[nodiscard]] http_response get(std::string_view target, std::string_view extra = {});
    [[nodiscard]] received_until_close read_until_close();

    [[nodiscard]] std::string protocol() const;
    [[nodiscard]] std::string alpn() const;
    [[nodiscard]] std::string peer_serial() const;
    [[nodiscard]] bool session_reused() const;
    /// The session to resume later: in TLS 1.3 its ticket comes after the handshake, so read a
    /// response first.
    [[nodiscard]] std::shared_ptr<ssl_session_st> session() const;

  private:
    std::size_t receive_some();
    void release();

    int fd_{-1};
    ssl_ctx_st* ctx_{nullptr};
    ssl_st* ssl_{nullptr};
    std::chrono::seconds timeout_;
    boost::beast::flat_buffer buffer_;
};

} // namespace hello_async::testing
