#pragma once

#include "hello_async/http/limits.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hello_async {

/// A config file that cannot be used; what() reads "FILE:LINE:COLUMN: KEY: problem".
class config_error : public std::runtime_error
{
  public:
    using std::runtime_error::runtime_error;
};

/// Methods a route may answer. HEAD is always allowed where GET is (RFC 9110 §9.3.2).
enum class method_set : unsigned
{
    none = 0,
    get = 1U << 0U,
    head = 1U << 1U,
    post = 1U << 2U,
};

constexpr method_set operator|(method_set a, method_set b)
{
    return static_cast<method_set>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}

constexpr bool contains(method_set set, method_set m)
{
    return (static_cast<unsigned>(set) & static_cast<unsigned>(m)) != 0;
}

/// One [[route]]: an exact path answered with one file.
struct route_config
{
    std::string path;
    std::filesystem::path file; ///< absolute once loaded
    unsigned status{200};
    std::chrono::milliseconds delay{0};
    method_set methods{method_set::get | method_set::head};
    std::string content_type;  ///< empty: from the file extension
    std::string cache_control; ///< empty: no Cache-Control header
};

/// One [[static]]: a directory served under a URL prefix.
struct static_config
{
    std::string prefix;        ///< always ends in '/'
    std::filesystem::path dir; ///< absolute once loaded
    std::string index{"index.html"};
    std::string cache_control; ///< empty: no Cache-Control header
};

/// Where log lines go.
enum class log_target
{
    automatic, ///< the journal when stderr is connected to it, else stderr
    journal,
    stderr_stream,
};

/// "auto", "journal" or "stderr", as the config file and the command line spell them.
[[nodiscard]] std::optional<log_target> parse_log_target(std::string_view word);

/// What happens to a request entry when journald falls behind and the thread's queue is full.
enum class log_overflow
{
    drop, ///< the oldest queued entry makes way (counted): journald never slows the server
    wait, ///< the connection waits for room: no entry is lost, requests go at journald's pace
};

/// The port served when the config names no listen address, as the shipped socket unit does.
constexpr unsigned short default_port = 7878;

/// The [server] table.
struct server_config
{
    std::vector<boost::asio::ip::tcp::endpoint> listen;
    std::filesystem::path root;
    unsigned threads{0}; ///< 0: one per CPU
    bool access_log{true};
    log_target log{log_target::automatic};
    std::string socket_name{"http"}; ///< FileDescriptorName= of the socket unit
    bool redirect_to_https{false};   ///< plain requests get 308 to the same target over HTTPS
    /// With sockets passed by systemd: exit 0 after this long with no open connection, leaving
    /// the sockets to systemd, which starts the daemon again for the next one. 0: never.
    std::chrono::milliseconds idle_exit{0};
    log_overflow access_log_overflow{log_overflow::drop};
};

/// The shortest server.idle_exit: systemd refuses a sixth start within 10 s by default, so a
/// shorter one would let bursts of traffic run into the start limit.
constexpr std::chrono::seconds idle_exit_min{10};

/// A PEM file named in the config: a path, or a systemd credential ("credential:NAME", read
/// from $CREDENTIALS_DIRECTORY when the certificates are loaded).
struct pem_source
{
    std::filesystem::path file; ///< absolute; empty for a credential
    std::string credential;     ///< the credential's name; empty for a file
    std::string origin;         ///< "FILE:LINE:COLUMN: KEY", for problems found when loading
};

/// One [[tls.certificate]]: a certificate chain and its private key.
struct certificate_config
{
    pem_source chain;
    pem_source key;
};

/// TLS protocol versions, as OpenSSL numbers them (TLS1_2_VERSION, TLS1_3_VERSION).
constexpr int tls_1_2 = 0x0303;
constexpr int tls_1_3 = 0x0304;

/// The [tls] table.
struct tls_config
{
    std::string socket_name{"https"}; ///< FileDescriptorName= of the TLS socket unit
    std::vector<boost::asio::ip::tcp::endpoint> listen; ///< bound without systemd; none by default
    int min_version{tls_1_2};
    int max_version{tls_1_3};
    std::chrono::milliseconds handshake_timeout{std::chrono::seconds{10}};
    std::string hsts; ///< Strict-Transport-Security value for TLS responses; empty: none
    /// The first answers clients without SNI or with an unknown name. Empty: the credentials
    /// tls.chain and tls.key (what the shipped example drop-in hands over).
    std::vector<certificate_config> certificates;
};

/// The [http2] table.
struct http2_config
{
    bool enabled{true};    ///< offer h2 in ALPN on TLS sockets, ahead of http/1.1
    bool cleartext{false}; ///< plain connections that open with the HTTP/2 preface speak h2c
    std::uint32_t max_concurrent_streams{128};
};

/// Everything read from one config file, with every path made absolute.
struct config
{
    std::filesystem::path source;
    server_config server;
    tls_config tls;
    http2_config http2;
    struct limits limits;
    std::vector<route_config> routes;
    std::vector<static_config> statics;
    std::map<unsigned, std::filesystem::path> error_pages;
};

/// strerror's text for `error`, without strerror's shared buffer (a reload runs beside the I/O
/// threads).
[[nodiscard]] std::string errno_text(int error);

/// Loads `path` as load_config() does and returns every key the loader looked for, present or
/// not, as "table.key" ("route.path" for a key of any [[route]]): with every table present in
/// the file, the keys the loader accepts. For the test that holds the reference to them.
[[nodiscard]] std::set<std::string> config_keys_read(std::filesystem::path const& path);

/// The directory of drop-ins beside the main config file.
constexpr std::string_view drop_in_dir_name = "conf.d";

/// The drop-ins of the config file `path`: every *.toml in conf.d/ beside it, in lexical order;
/// none when there is no such directory.
[[nodiscard]] std::vector<std::filesystem::path> drop_ins_for(std::filesystem::path const& path);

/// Reads and validates a config file and its drop-ins, merged in lexical order after it: their
/// [[route]], [[static]] and [[tls.certificate]] entries are appended, keys of the other tables
/// replace the main file's. Relative paths resolve as in the main file. Throws config_error
/// naming file, line and key.
[[nodiscard]] config load_config(std::filesystem::path const& path);

/// Parses config text as if read from `source` (relative paths resolve against its directory).
[[nodiscard]] config parse_config(std::string_view text, std::filesystem::path const& source);

/// "250ms", "5s", "2m" (or "2min", as systemd writes it), "1h"; nullopt when malformed.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

/// "[::]:7878", "127.0.0.1:80", "*:7878"; nullopt when malformed.
[[nodiscard]] std::optional<boost::asio::ip::tcp::endpoint>
parse_listen_address(std::string_view text);

} // namespace hello_async
