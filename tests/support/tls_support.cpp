#include "support/tls_support.hpp"

#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "support/daemon_process.hpp"

namespace hello_async::testing {

namespace fs = std::filesystem;

program_result run_program(std::vector<std::string> const& argv,
                           std::string const& input,
                           std::chrono::seconds timeout)
{
    std::array<int, 2> in{};
    std::array<int, 2> out{};
    if (::pipe2(in.data(), O_CLOEXEC) != 0 || ::pipe2(out.data(), O_CLOEXEC) != 0)
        throw std::runtime_error{"pipe2 failed"};
    pid_t const pid = ::fork();
    if (pid < 0)
        throw std::runtime_error{"fork failed"};
    if (pid == 0) {
        ::dup2(in[0], 0);
        ::dup2(out[1], 1);
        ::dup2(out[1], 2);
        std::vector<std::string> args = argv;
        std::vector<char*> raw;
        for (auto& a : args)
            raw.push_back(a.data());
        raw.push_back(nullptr);
        ::execvp(raw[0], raw.data());
        ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    // The input is small; a writer thread keeps a program that does not read it from
    // blocking us.
    std::thread writer{[fd = in[1], input] {
        std::size_t done = 0;
        while (done < input.size()) {
            auto const n = ::write(fd, input.data() + done, input.size() - done);
            if (n <= 0)
                break;
            done += static_cast<std::size_t>(n);
        }
        ::close(fd);
    }};
    program_result result;
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    std::array<char, 4096> chunk{};
    bool killed = false;
    for (;;) {
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            ::kill(pid, SIGKILL);
            killed = true;
            break;
        }
        pollfd p{out[0], POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
            continue;
        auto const n = ::read(out[0], chunk.data(), chunk.size());
        if (n <= 0)
            break;
        result.output.append(chunk.data(), static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    writer.join();
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (killed)
        result.status = -1;
    else
        result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

namespace {

void openssl_command(std::vector<std::string> args)
{
    args.insert(args.begin(), "openssl");
    auto const result = run_program(args);
    if (result.status != 0)
        throw std::runtime_error{"openssl " + args.at(1) + " failed: " + result.output};
}

std::vector<std::string> new_key_args(fs::path const& key, bool rsa)
{
    if (rsa)
        return {"-newkey", "rsa:2048", "-nodes", "-keyout", key.string()};
    return {"-newkey", "ec",      "-pkeyopt",  "ec_paramgen_curve:P-256",
            "-nodes",  "-keyout", key.string()};
}

} // namespace

test_pki::test_pki(fs::path dir)
    : dir_{std::move(dir)}
    , ca_{dir_ / "ca.pem"}
    , ca_key_{dir_ / "ca.key"}
{
    fs::create_directories(dir_);
    auto args = std::vector<std::string>{"req", "-x509"};
    auto const key = new_key_args(ca_key_, false);
    args.insert(args.end(), key.begin(), key.end());
    args.insert(args.end(),
                {"-out", ca_.string(), "-days", "30", "-subj", "/CN=hello-async test CA"});
    openssl_command(args);
}

test_pki::issued test_pki::issue(std::string const& stem,
                                 std::vector<std::string> const& names,
                                 int from_days,
                                 int to_days,
                                 bool rsa) const
{
    issued out{dir_ / (stem + ".pem"), dir_ / (stem + ".key"), {}};
    auto const csr = dir_ / (stem + ".csr");
    auto const leaf = dir_ / (stem + ".leaf.pem");
    auto args = std::vector<std::string>{"req"};
    auto const key = new_key_args(out.key, rsa);
    args.insert(args.end(), key.begin(), key.end());
    args.insert(args.end(), {"-out", csr.string(), "-subj", "/CN=" + names.front()});
    openssl_command(args);
    std::string san = "subjectAltName=IP:127.0.0.1";
    for (auto const& name : names)
        san += ",DNS:" + name;
    // Distinct serials, so that a test can tell which certificate the server presents.
    static unsigned next_serial = 0;
    std::array<char, 16> serial_text{};
    std::snprintf(serial_text.data(), serial_text.size(), "%04X%04X",
                  static_cast<unsigned>(::getpid()) & 0xffffU, ++next_serial);
    std::string const serial{serial_text.data()};
    auto const ext = dir_ / (stem + ".ext");
    {
        std::FILE* f = std::fopen(ext.c_str(), "w");
        std::fputs((san + "\n").c_str(), f);
        std::fclose(f);
    }
    std::vector<std::string> sign{"x509",        "-req",        "-in",      csr.string(),
                                  "-CA",         ca_.string(),  "-CAkey",   ca_key_.string(),
                                  "-set_serial", "0x" + serial, "-extfile", ext.string(),
                                  "-out",        leaf.string()};
    if (from_days < 0 && to_days > 0) {
        sign.insert(sign.end(), {"-days", std::to_string(to_days)});
        openssl_command(sign);
    } else {
        // A window that does not contain now: `openssl x509 -req` of OpenSSL 3.0 cannot set a
        // start date, `openssl ca` can.
        auto const start = std::chrono::system_clock::now() + std::chrono::hours{24} * from_days;
        auto const end = std::chrono::system_clock::now() + std::chrono::hours{24} * to_days;
        auto stamp = [](std::chrono::system_clock::time_point t) {
            auto const tt = std::chrono::system_clock::to_time_t(t);
            std::tm parts{};
            ::gmtime_r(&tt, &parts);
            std::array<char, 32> text{};
            auto const n = std::strftime(text.data(), text.size(), "%Y%m%d%H%M%SZ", &parts);
            return std::string{text.data(), n};
        };
        auto const db = dir_ / (stem + ".index");
        std::FILE* f = std::fopen(db.c_str(), "w");
        std::fclose(f);
        auto const serial_file = dir_ / (stem + ".serial");
        f = std::fopen(serial_file.c_str(), "w");
        std::fputs((serial + "\n").c_str(), f);
        std::fclose(f);
        auto const conf = dir_ / (stem + ".ca.cnf");
        f = std::fopen(conf.c_str(), "w");
        std::fputs(("[ca]\ndefault_ca=test\n[test]\ndatabase=" + db.string() +
                    "\nnew_certs_dir=" + dir_.string() + "\nserial=" + serial_file.string() +
                    "\npolicy=any\ndefault_md=sha256\nunique_subject=no\n[any]\ncommonName="
                    "supplied\n[ext]\n" +
                    san + "\n")
                       .c_str(),
                   f);
        std::fclose(f);
        openssl_command({"ca", "-batch", "-config", conf.string(), "-in", csr.string(), "-cert",
                         ca_.string(), "-keyfile", ca_key_.string(), "-startdate", stamp(start),
                         "-enddate", stamp(end), "-extensions", "ext", "-notext", "-out",
                         leaf.string()});
    }
    auto const chain = read_file(leaf) + read_file(ca_);
    std::FILE* f = std::fopen(out.chain.c_str(), "w");
    std::fputs(chain.c_str(), f);
    std::fclose(f);
    auto const printed =
        run_program({"openssl", "x509", "-noout", "-serial", "-in", leaf.string()});
    auto const eq = printed.output.find('=');
    out.serial = printed.output.substr(eq + 1, printed.output.find('\n') - eq - 1);
    return out;
}

tls_client::tls_client(unsigned short port, fs::path const& ca, options const& how)
    : timeout_{how.timeout}
{
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    if (how.max_version != 0)
        SSL_CTX_set_max_proto_version(ctx_, how.max_version);
    SSL_CTX_load_verify_file(ctx_, ca.c_str());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    if (::connect(fd_, reinterpret_cast<sockaddr const*>(&addr), sizeof addr) != 0) {
        auto const error = errno;
        release();
        throw std::runtime_error{"connect failed: " + std::string{std::strerror(error)}};
    }
    timeval tv{};
    tv.tv_sec = how.timeout.count();
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    // SSL_set_tlsext_host_name() is a macro with a C cast; the call it makes.
    if (!how.sni.empty()) {
        SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(how.sni.c_str()));
    }
    if (!how.alpn.empty()) {
        std::string wire;
        for (auto const& p : how.alpn) {
            wire += static_cast<char>(p.size());
            wire += p;
        }
        SSL_set_alpn_protos(ssl_, reinterpret_cast<unsigned char const*>(wire.data()),
                            static_cast<unsigned>(wire.size()));
    }
    if (how.resume != nullptr)
        SSL_set_session(ssl_, how.resume);
    if (SSL_connect(ssl_) != 1) {
        auto const code = ERR_get_error();
        ERR_clear_error();
        std::array<char, 256> reason{};
        ERR_error_string_n(code, reason.data(), reason.size());
        // No destructor runs for a constructor that throws.
        release();
        throw std::runtime_error{"TLS handshake failed: " + std::string{reason.data()}};
    }
}

tls_client::~tls_client()
{
    // Without close_notify OpenSSL marks the session as not resumable.
    if (ssl_ != nullptr && SSL_is_init_finished(ssl_) == 1)
        SSL_shutdown(ssl_);
    release();
}

void tls_client::release()
{
    SSL_free(ssl_);
    ssl_ = nullptr;
    SSL_CTX_free(ctx_);
    ctx_ = nullptr;
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = -1;
}

void tls_client::send(std::string_view bytes)
{
    std::size_t done = 0;
    while (done < bytes.size()) {
        std::size_t n = 0;
        if (SSL_write_ex(ssl_, bytes.data() + done, bytes.size() - done, &n) != 1)
            throw std::runtime_error{"TLS write failed"};
        done += n;
    }
}

std::size_t tls_client::receive_some()
{
    if (SSL_pending(ssl_) == 0) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout_.count() * 1000)) == 0)
            throw std::runtime_error{"timed out waiting for the server"};
    }
    auto buf = buffer_.prepare(16 * 1024);
    std::size_t n = 0;
    int const result = SSL_read_ex(ssl_, buf.data(), buf.size(), &n);
    if (result != 1) {
        auto const error = SSL_get_error(ssl_, result);
        ERR_clear_error();
        if (error == SSL_ERROR_ZERO_RETURN || error == SSL_ERROR_SYSCALL || error == SSL_ERROR_SSL)
            return 0;
        throw std::runtime_error{"TLS read failed: " + std::to_string(error)};
    }
    buffer_.commit(n);
    return n;
}

http_response tls_client::read_response(bool head_request)
{
    return read_response_from(
        buffer_, [this] { return receive_some(); }, head_request);
}

http_response tls_client::get(std::string_view target, std::string_view extra)
{
    send(request("GET", target, extra));
    return read_response();
}

received_until_close tls_client::read_until_close()
{
    received_until_close out;
    try {
        while (receive_some() > 0) {
        }
        out.closed = true;
    } catch (std::runtime_error const&) {
        out.closed = false;
    }
    out.bytes.assign(static_cast<char const*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    return out;
}

std::string tls_client::protocol() const
{
    return SSL_get_version(ssl_);
}

std::string tls_client::alpn() const
{
    unsigned char const* data = nullptr;
    unsigned length = 0;
    SSL_get0_alpn_selected(ssl_, &data, &length);
    return data == nullptr ? std::string{}
                           : std::string{reinterpret_cast<char const*>(data), length};
}

std::string tls_client::peer_serial() const
{
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (cert == nullptr)
        return {};
    std::string out;
    if (BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr)) {
        if (char* hex = BN_bn2hex(serial)) {
            out = hex;
            OPENSSL_free(hex);
        }
        BN_free(serial);
    }
    X509_free(cert);
    return out;
}

bool tls_client::session_reused() const
{
    return SSL_session_reused(ssl_) == 1;
}

std::shared_ptr<ssl_session_st> tls_client::session() const
{
    return {SSL_get1_session(ssl_), [](ssl_session_st* s) { SSL_SESSION_free(s); }};
}

} // namespace hello_async::testing
