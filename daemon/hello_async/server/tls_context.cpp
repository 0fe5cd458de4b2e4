#include "hello_async/server/tls_context.hpp"

#include "hello_async/http/field_text.hpp"
#include "hello_async/http/unique_fd.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <span>
#include <sys/stat.h>
#include <unistd.h>

namespace hello_async {
namespace {

namespace fs = std::filesystem;
using system_clock = std::chrono::system_clock;

/// Mozilla's intermediate profile without DHE: all forward secret and authenticated.
constexpr char const* tls12_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                      "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                      "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr char const* tls13_suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr char const* groups = "X25519:P-256:P-384";
/// Resumption only between contexts of this daemon.
constexpr std::array<unsigned char, 11> session_id_context{'h', 'e', 'l', 'l', 'o', '-',
                                                           'a', 's', 'y', 'n', 'c'};
/// A PEM chain or key larger than this is not one.
constexpr std::size_t pem_bytes_max = std::size_t{1} << 20;

struct bio_deleter
{
    void operator()(BIO* bio) const { BIO_free(bio); }
};
struct x509_deleter
{
    void operator()(X509* cert) const { X509_free(cert); }
};
struct pkey_deleter
{
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct general_names_deleter
{
    void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;
using x509_ptr = std::unique_ptr<X509, x509_deleter>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;

/// OpenSSL's reason for the last failure on this thread, and an empty error queue after.
std::string openssl_reason()
{
    auto const code = ERR_peek_last_error();
    ERR_clear_error();
    if (code == 0)
        return "unknown OpenSSL error";
    char const* reason = ERR_reason_error_string(code);
    return reason != nullptr ? reason : "OpenSSL error " + std::to_string(code);
}

[[noreturn]] void fail(pem_source const& source, std::string_view problem)
{
    throw config_error{source.origin + ": " + std::string{problem}};
}

/// The text of a PEM source, or why it cannot be read.
struct pem_text
{
    std::string text;
    std::string problem;
    bool credentials_unreadable{false}; ///< no access to $CREDENTIALS_DIRECTORY at all
};

pem_text read_file(fs::path const& path)
{
    pem_text out;
    int const fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        out.problem = "cannot open " + path.string() + ": " + errno_text(errno);
        return out;
    }
    struct stat st
    {
    };
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        out.problem = path.string() + " is not a regular file";
        return out;
    }
    std::array<char, 4096> chunk{};
    for (;;) {
        auto const n = ::read(fd, chunk.data(), chunk.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            out.problem = "cannot read " + path.string() + ": " + errno_text(errno);
            break;
        }
        if (n == 0)
            break;
        out.text.append(chunk.data(), static_cast<std::size_t>(n));
        if (out.text.size() > pem_bytes_max) {
            out.problem = path.string() + " is larger than any PEM certificate chain or key";
            break;
        }
    }
    ::close(fd);
    return out;
}

pem_text read_source(pem_source const& source)
{
    if (source.credential.empty())
        return read_file(source.file);
    auto const path = credential_path(source.credential);
    if (!path) {
        pem_text out;
        out.problem = "credential " + source.credential +
                      ": $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the service "
                      "unit hands credentials over)";
        out.credentials_unreadable = true;
        return out;
    }
    auto out = read_file(*path);
    if (!out.problem.empty()) {
        out.problem = "credential " + source.credential + ": " + out.problem;
        out.credentials_unreadable = ::access(path->parent_path().c_str(), R_OK | X_OK) != 0;
    }
    return out;
}

/// The certificate and then the intermediates of a PEM chain.
std::vector<x509_ptr> parse_chain(pem_source const& source, std::string const& text)
{
    bio_ptr bio{BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))};
    std::vector<x509_ptr> out;
    for (;;) {
        x509_ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)};
        if (!cert)
            break;
        out.push_back(std::move(cert));
    }
    auto const last = ERR_peek_last_error();
    // The loop ends on "no start line" once the text holds no further certificate.
    bool const clean_end = ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
    if (clean_end) {
        ERR_clear_error();
        if (out.empty())
            fail(source, "no PEM certificate in it");
        return out;
    }
    auto const position =
        out.empty() ? std::string{} : " after the first " + std::to_string(out.size());
    fail(source, "bad PEM certificate" + position + ": " + openssl_reason());
}

pkey_ptr parse_key(pem_source const& source, std::string const& text)
{
    bio_ptr bio{BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))};
    pkey_ptr key{PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)};
    if (!key)
        fail(source, "no PEM private key in it (" + openssl_reason() + ")");
    auto const type = EVP_PKEY_get_base_id(key.get());
    if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC)
        fail(source, "the key is neither RSA nor ECDSA");
    return key;
}

system_clock::time_point time_of(ASN1_TIME const* when)
{
    std::tm parts{};
    if (ASN1_TIME_to_tm(when, &parts) != 1)
        return system_clock::time_point{};
    return system_clock::from_time_t(::timegm(&parts));
}

std::vector<std::string> names_of(X509* cert)
{
    std::vector<std::string> out;
    std::unique_ptr<GENERAL_NAMES, general_names_deleter> const alt{static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))};
    if (alt) {
        for (int i = 0; i < sk_GENERAL_NAME_num(alt.get()); ++i) {
            auto const* name = sk_GENERAL_NAME_value(alt.get(), i);
            if (name->type != GEN_DNS)
                continue;
            // OpenSSL's GENERAL_NAME is a tagged union, checked just above; its strings are bytes.
            auto const* dns = name->d.dNSName; // NOLINT(cppcoreguidelines-pro-type-union-access)
            auto const* bytes = ASN1_STRING_get0_data(dns);
            auto const length = static_cast<std::size_t>(ASN1_STRING_length(dns));
            // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
            out.emplace_back(reinterpret_cast<char const*>(bytes), length);
        }
    }
    if (!out.empty())
        return out;
    // RFC 6125 §6.4.4: the common name only when there is no DNS name at all.
    std::array<char, 256> common{};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, common.data(),
                                  static_cast<int>(common.size())) > 0)
        out.emplace_back(common.data());
    return out;
}

certificate_summary summarize(X509* cert, std::string origin)
{
    certificate_summary out;
    out.origin = std::move(origin);
    out.names = names_of(cert);
    out.subject = out.names.empty() ? "(no name)" : out.names.front();
    if (BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr)) {
        if (char* hex = BN_bn2hex(serial)) {
            out.serial = hex;
            OPENSSL_free(hex);
        }
        BN_free(serial);
    }
    out.not_before = time_of(X509_get0_notBefore(cert));
    out.not_after = time_of(X509_get0_notAfter(cert));
    return out;
}

std::string date_text(system_clock::time_point when)
{
    auto const t = system_clock::to_time_t(when);
    std::tm parts{};
    ::gmtime_r(&t, &parts);
    std::array<char, 32> text{};
    auto const n = std::strftime(text.data(), text.size(), "%Y-%m-%d %H:%M UTC", &parts);
    return {text.data(), n};
}

/// The ALPN protocols offered, in the wire format and in the order preferred.
constexpr std::array<unsigned char, 12> alpn_h2_first{2,   'h', '2', 8,   'h', 't',
                                                      't', 'p', '/', '1', '.', '1'};
constexpr std::array<unsigned char, 9> alpn_http11_only{8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

struct alpn_offer
{
    std::span<unsigned char const> wire;
};
alpn_offer const offer_with_h2{alpn_h2_first};
alpn_offer const offer_http11_only{alpn_http11_only};

int select_alpn(SSL* /*ssl*/,
                unsigned char const** out,
                unsigned char* out_length,
                unsigned char const* client,
                unsigned client_length,
                void* arg)
{
    auto const& offer = *static_cast<alpn_offer const*>(arg);
    unsigned char* chosen = nullptr;
    // The server's order decides (RFC 7301 §3.2 leaves it to us): h2 when both are offered.
    if (SSL_select_next_proto(&chosen, out_length, offer.wire.data(),
                              static_cast<unsigned>(offer.wire.size()), client,
                              client_length) != OPENSSL_NPN_NEGOTIATED)
    {
        // RFC 7301 §3.2: a client that offers only protocols we do not speak is refused.
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

/// Whether the kernel has TLS loaded (the "tls" upper layer protocol). OpenSSL would otherwise
/// try and fail to switch every connection to it, and the service may not load modules
/// (ProtectKernelModules=yes): `modprobe tls` at boot turns it on.
bool kernel_tls_loaded()
{
    unique_fd const file{::open("/proc/sys/net/ipv4/tcp_available_ulp", O_RDONLY | O_CLOEXEC)};
    if (!file)
        return false;
    std::array<char, 512> text{};
    ssize_t const got = ::read(file.get(), text.data(), text.size());
    if (got <= 0)
        return false;
    // One line of names separated by spaces, such as "espintcp mptcp tls".
    std::string_view names{text.data(), static_cast<std::size_t>(got)};
    while (!names.empty()) {
        auto const end = names.find_first_of(" \n");
        if (names.substr(0, end) == "tls")
            return true;
        names.remove_prefix(end == std::string_view::npos ? names.size() : end + 1);
    }
    return false;
}

/// A context with every setting but the certificate: the same for all of them, since a
/// connection changes context after its ClientHello.
std::unique_ptr<ssl_ctx_st, ssl_ctx_deleter> new_context(tls_config const& tls, bool offer_h2)
{
    std::unique_ptr<ssl_ctx_st, ssl_ctx_deleter> ctx{SSL_CTX_new(TLS_server_method())};
    if (!ctx)
        throw config_error{"tls: cannot create an OpenSSL context: " + openssl_reason()};
    auto* c = ctx.get();
    bool ok = SSL_CTX_set_min_proto_version(c, tls.min_version) == 1 &&
              SSL_CTX_set_max_proto_version(c, tls.max_version) == 1 &&
              SSL_CTX_set_cipher_list(c, tls12_ciphers) == 1 &&
              SSL_CTX_set_ciphersuites(c, tls13_suites) == 1 &&
              SSL_CTX_set1_groups_list(c, groups) == 1 &&
              SSL_CTX_set_session_id_context(c, session_id_context.data(),
                                             session_id_context.size()) == 1;
    if (!ok)
        throw config_error{"tls: OpenSSL refused the protocol settings: " + openssl_reason()};
    // No renegotiation (a client-driven CPU sink), no compression (CRIME); the client's
    // preference among suites that are all strong. Kernel TLS where the kernel has it, so
    // that files go out with SSL_sendfile.
    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (kernel_tls_loaded())
        SSL_CTX_set_options(c, SSL_OP_ENABLE_KTLS);
    // Idle connections give their 2 × 17 KiB record buffers back; writes may return early,
    // and the rest is retried from wherever it was copied to.
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // A record in one read() rather than its header and then its body: half the reads.
    SSL_CTX_set_read_ahead(c, 1);
    // Resumption by session tickets only (TLS 1.2 and 1.3): nothing per session stays in the
    // server, and tickets work across threads and reloads alike.
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    auto const* offer = offer_h2 ? &offer_with_h2 : &offer_http11_only;
    // OpenSSL's callback argument is not const; select_alpn only reads it.
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
    SSL_CTX_set_alpn_select_cb(c, select_alpn, const_cast<alpn_offer*>(offer));
    return ctx;
}

void use_certificate(ssl_ctx_st* ctx,
                     certificate_config const& cert,
                     std::vector<x509_ptr> const& chain,
                     EVP_PKEY* key)
{
    if (SSL_CTX_use_certificate(ctx, chain.front().get()) != 1)
        fail(cert.chain, "OpenSSL refused the certificate: " + openssl_reason());
    for (auto const& intermediate : std::span{chain}.subspan(1)) {
        if (SSL_CTX_add1_chain_cert(ctx, intermediate.get()) != 1)
            fail(cert.chain, "OpenSSL refused an intermediate certificate: " + openssl_reason());
    }
    if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        fail(cert.key, "the key does not match the certificate in " +
                           (cert.chain.credential.empty() ? cert.chain.file.string()
                                                          : "credential " + cert.chain.credential));
    }
}

/// A certificate and its key, read and parsed; nullopt for a part --check-config may not read.
struct parsed_certificate
{
    std::vector<x509_ptr> chain;
    pkey_ptr key;
};

std::optional<parsed_certificate> parse_certificate(certificate_config const& cert,
                                                    bool allow_unreadable_credentials,
                                                    std::vector<std::string>& notes)
{
    auto chain_text = read_source(cert.chain);
    auto key_text = read_source(cert.key);
    bool skipped = false;
    for (auto const* part : {&chain_text, &key_text}) {
        if (part->problem.empty())
            continue;
        auto const& source = part == &chain_text ? cert.chain : cert.key;
        if (!(allow_unreadable_credentials && part->credentials_unreadable))
            fail(source, part->problem);
        notes.push_back(source.origin + ": credential " + source.credential +
                        ": checked at start only ($CREDENTIALS_DIRECTORY is not readable here)");
        skipped = true;
    }
    parsed_certificate out;
    if (chain_text.problem.empty())
        out.chain = parse_chain(cert.chain, chain_text.text);
    if (key_text.problem.empty())
        out.key = parse_key(cert.key, key_text.text);
    // The key's bytes are not left behind in freed memory.
    OPENSSL_cleanse(key_text.text.data(), key_text.text.size());
    if (skipped)
        return std::nullopt;
    return out;
}

} // namespace

void ssl_deleter::operator()(ssl_st* ssl) const
{
    SSL_free(ssl);
}

void ssl_ctx_deleter::operator()(ssl_ctx_st* ctx) const
{
    SSL_CTX_free(ctx);
}

bool certificate_name_matches(std::string_view pattern, std::string_view host)
{
    if (host.ends_with('.'))
        host.remove_suffix(1);
    if (pattern.empty() || host.empty())
        return false;
    if (!pattern.starts_with("*."))
        return iequals_ascii(pattern, host);
    auto const dot = host.find('.');
    if (dot == std::string_view::npos || dot == 0)
        return false;
    return iequals_ascii(pattern.substr(1), host.substr(dot));
}

std::size_t pick_certificate(std::vector<std::vector<std::string>> const& names,
                             std::string_view host)
{
    if (host.empty())
        return 0;
    for (bool const wildcard : {false, true}) {
        for (std::size_t i = 0; i < names.size(); ++i) {
            bool const found = std::any_of(names[i].begin(), names[i].end(), [&](auto const& n) {
                return n.starts_with("*.") == wildcard && certificate_name_matches(n, host);
            });
            if (found)
                return i;
        }
    }
    return 0;
}

std::optional<fs::path> credential_path(std::string_view name)
{
    char const* dir = std::getenv("CREDENTIALS_DIRECTORY"); // NOLINT(concurrency-mt-unsafe)
    if (dir == nullptr || *dir == '\0')
        return std::nullopt;
    return fs::path{dir} / name;
}

std::vector<certificate_config> certificates_in_use(config const& cfg)
{
    if (!cfg.tls.certificates.empty())
        return cfg.tls.certificates;
    std::string const origin =
        cfg.source.string() + ": tls.certificate (none configured, so the credentials)";
    certificate_config fallback;
    fallback.chain.credential = "tls.chain";
    fallback.chain.origin = origin;
    fallback.key.credential = "tls.key";
    fallback.key.origin = origin;
    return {fallback};
}

std::string validity_problem(certificate_summary const& cert, system_clock::time_point now)
{
    auto const named =
        "certificate " + cert.subject + " (serial " + cert.serial + ", " + cert.origin + ")";
    if (now >= cert.not_after)
        return named + " expired on " + date_text(cert.not_after) + "; serving it anyway";
    if (now < cert.not_before)
        return named + " is not valid before " + date_text(cert.not_before) + "; serving it anyway";
    if (cert.not_after - now < expiry_warning_window) {
        auto const days = std::chrono::duration_cast<std::chrono::hours>(cert.not_after - now) / 24;
        return named + " expires in " + std::to_string(days.count()) + " days (" +
               date_text(cert.not_after) + ")";
    }
    return {};
}

tls_context::~tls_context() = default;

std::shared_ptr<tls_context const> tls_context::load(config const& cfg, tls_context const* previous)
{
    std::shared_ptr<tls_context> out{new tls_context};
    std::vector<std::string> no_notes;
    for (auto const& cert : certificates_in_use(cfg)) {
        auto parsed = parse_certificate(cert, false, no_notes);
        auto ctx = new_context(cfg.tls, cfg.http2.enabled);
        use_certificate(ctx.get(), cert, parsed->chain, parsed->key.get());
        out->certs_.push_back(summarize(parsed->chain.front().get(), cert.chain.origin));
        out->names_.push_back(out->certs_.back().names);
        out->contexts_.push_back(std::move(ctx));
    }
    auto* first = out->contexts_.front().get();
    // OpenSSL's macro for this casts in C style; the same call, spelled out.
    SSL_CTX_callback_ctrl(
        first, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
        reinterpret_cast<void (*)()>( // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
            &tls_context::on_server_name));
    SSL_CTX_set_tlsext_servername_arg(first, out.get());
    if (previous != nullptr) {
        // 80 bytes in OpenSSL 3: key name, HMAC secret, AES key.
        std::array<unsigned char, 80> keys{};
        auto* old = previous->contexts_.front().get();
        if (SSL_CTX_get_tlsext_ticket_keys(old, keys.data(), keys.size()) == 1)
            SSL_CTX_set_tlsext_ticket_keys(first, keys.data(), keys.size());
        OPENSSL_cleanse(keys.data(), keys.size());
    }
    return out;
}

int tls_context::on_server_name(ssl_st* ssl, int* /*alert*/, void* self)
{
    auto const& context = *static_cast<tls_context const*>(self);
    char const* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr)
        return SSL_TLSEXT_ERR_NOACK;
    auto const chosen = pick_certificate(context.names_, name);
    if (chosen != 0)
        SSL_set_SSL_CTX(ssl, context.contexts_[chosen].get());
    return SSL_TLSEXT_ERR_OK;
}

ssl_handle tls_context::new_connection() const
{
    return ssl_handle{SSL_new(contexts_.front().get())};
}

std::vector<std::string> tls_context::validity_warnings(system_clock::time_point now) const
{
    std::vector<std::string> out;
    for (auto const& cert : certs_) {
        if (auto problem = validity_problem(cert, now); !problem.empty())
            out.push_back(std::move(problem));
    }
    return out;
}

tls_check_report check_tls_certificates(config const& cfg)
{
    tls_check_report report;
    if (cfg.tls.certificates.empty() && cfg.tls.listen.empty())
        return report; // no TLS unless systemd passes an https socket: checked at start then
    for (auto const& cert : certificates_in_use(cfg)) {
        auto parsed = parse_certificate(cert, true, report.notes);
        if (!parsed)
            continue;
        auto ctx = new_context(cfg.tls, cfg.http2.enabled);
        use_certificate(ctx.get(), cert, parsed->chain, parsed->key.get());
        auto const summary = summarize(parsed->chain.front().get(), cert.chain.origin);
        if (auto problem = validity_problem(summary, system_clock::now()); !problem.empty())
            report.notes.push_back(problem);
    }
    return report;
}

} // namespace hello_async
