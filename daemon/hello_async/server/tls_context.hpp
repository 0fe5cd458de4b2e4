#pragma once

#include "hello_async/http/config.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct ssl_st;
struct ssl_ctx_st;

namespace hello_async {

struct ssl_deleter
{
    void operator()(ssl_st* ssl) const;
};
/// One TLS connection's OpenSSL state.
using ssl_handle = std::unique_ptr<ssl_st, ssl_deleter>;

struct ssl_ctx_deleter
{
    void operator()(ssl_ctx_st* ctx) const;
};

/// Whether `host`, a server name a client sent (SNI), is `pattern`, one of a certificate's
/// names: equal ignoring case, or matched by a wildcard "*.example.com" in its first label only
/// (RFC 6125 §6.4.3: "*.example.com" covers "a.example.com", not "example.com" or
/// "a.b.example.com").
[[nodiscard]] bool certificate_name_matches(std::string_view pattern, std::string_view host);

/// The certificate to present for `host`, given each certificate's names: the first with that
/// exact name, else the first a wildcard of which matches, else the first (nginx's order).
[[nodiscard]] std::size_t pick_certificate(std::vector<std::vector<std::string>> const& names,
                                           std::string_view host);

/// Where systemd put credential `name` ($CREDENTIALS_DIRECTORY/name); nullopt when the
/// service got no credentials.
[[nodiscard]] std::optional<std::filesystem::path> credential_path(std::string_view name);

/// The certificates a TLS socket uses when the config names none: the credentials the shipped
/// example drop-in hands over with LoadCredential=.
[[nodiscard]] std::vector<certificate_config> certificates_in_use(config const& cfg);

/// A certificate as loaded, for selection by name and for warnings about its validity.
struct certificate_summary
{
    std::string origin; ///< "FILE:LINE:COLUMN: tls.certificate[N].chain"
    std::string subject;
    std::string serial; ///< hex, as `openssl x509 -serial` prints it
    std::vector<std::string> names;
    std::chrono::system_clock::time_point not_before;
    std::chrono::system_clock::time_point not_after;
};

/// Within this of its end a certificate is warned about (at start, in STATUS, every hour).
constexpr std::chrono::hours expiry_warning_window{24 * 14};

/// "expired on ...", "expires in 3 days ..." or "not valid before ...": empty when fine.
[[nodiscard]] std::string validity_problem(certificate_summary const& cert,
                                           std::chrono::system_clock::time_point now);

/// The certificates, keys and settings of [tls], loaded into OpenSSL: immutable, shared by all
/// I/O threads (OpenSSL locks what it changes, the session ticket keys' use included). A reload
/// builds a new one; connections keep the one they started with.
///
/// One OpenSSL context per certificate: a connection starts on the first, and its SNI name
/// moves it to the one pick_certificate() chooses. Session tickets are sealed with the first
/// context's keys whichever certificate answered, so a ticket resumes on any thread and, since
/// a reload takes the keys over, after a reload too.
class tls_context
{
  public:
    /// Loads every certificate of certificates_in_use(cfg); throws config_error naming the file,
    /// line and key of one that cannot be read, is not PEM, or does not match its key.
    /// `previous`: the context this one replaces, whose ticket keys it takes over.
    [[nodiscard]] static std::shared_ptr<tls_context const> load(config const& cfg,
                                                                 tls_context const* previous);

    tls_context(tls_context const&) = delete;
    tls_context& operator=(tls_context const&) = delete;
    tls_context(tls_context&&) = delete;
    tls_context& operator=(tls_context&&) = delete;
    ~tls_context();

    /// A new server-side connection, not yet bound to a socket.
    [[nodiscard]] ssl_handle new_connection() const;

    [[nodiscard]] std::vector<certificate_summary> const& certificates() const { return certs_; }

    /// One line per certificate that is expired, not yet valid or expiring soon.
    [[nodiscard]] std::vector<std::string>
    validity_warnings(std::chrono::system_clock::time_point now) const;

  private:
    tls_context() = default;
    static int on_server_name(ssl_st* ssl, int* alert, void* self);

    std::vector<std::unique_ptr<ssl_ctx_st, ssl_ctx_deleter>> contexts_;
    std::vector<certificate_summary> certs_;
    std::vector<std::vector<std::string>> names_;
};

/// What --check-config could not check, and the warnings it should print.
struct tls_check_report
{
    std::vector<std::string> notes; ///< "…: credential tls.key: checked at start only"
};

/// For --check-config: loads every configured certificate as load() would (nothing when the
/// config names none), but a credential it may not read ($CREDENTIALS_DIRECTORY unset or not
/// readable, as for ExecReload=) is a note, not an error. Throws config_error like load().
[[nodiscard]] tls_check_report check_tls_certificates(config const& cfg);

} // namespace hello_async
