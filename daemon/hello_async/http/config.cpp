#include "hello_async/http/config.hpp"

#include "hello_async/http/unique_fd.hpp"

#include <boost/asio/ip/address.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <set>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace hello_async {
namespace {

namespace fs = std::filesystem;
namespace ip = boost::asio::ip;

/// "route[2].path" -> "route.path": the key, whichever entry of an array of tables it is in.
std::string without_indices(std::string path)
{
    for (auto open = path.find('['); open != std::string::npos; open = path.find('[', open)) {
        auto const close = path.find(']', open);
        if (close == std::string::npos)
            break;
        path.erase(open, close - open + 1);
    }
    return path;
}

/// Builds "FILE:LINE:COLUMN: KEY: problem" messages for one config file.
class diagnostics
{
  public:
    /// `keys_asked`, when given, collects every key the loader looks for (config_keys_read).
    explicit diagnostics(fs::path source, std::set<std::string>* keys_asked = nullptr)
        : source_{std::move(source)}
        , keys_asked_{keys_asked}
    {}

    void asked_for(std::string const& key_path) const
    {
        if (keys_asked_ != nullptr)
            keys_asked_->insert(without_indices(key_path));
    }

    [[noreturn]] void
    fail(toml::source_region const& where, std::string_view key, std::string_view problem) const
    {
        throw config_error{origin(where, key) + ": " + std::string{problem}};
    }

    /// "FILE:LINE:COLUMN: KEY", the start of every message about that key. FILE is the one the
    /// key was read from: the main file or a drop-in merged into it.
    [[nodiscard]] std::string origin(toml::source_region const& where, std::string_view key) const
    {
        std::string out = where.path ? *where.path : source_.string();
        out += ':' + std::to_string(where.begin.line);
        if (where.begin.column != 0)
            out += ':' + std::to_string(where.begin.column);
        out += ": ";
        out += key;
        return out;
    }

    [[nodiscard]] fs::path const& source() const { return source_; }

  private:
    fs::path source_;
    std::set<std::string>* keys_asked_;
};

/// "a string", "an integer", ...: what a config error says it found.
std::string type_name(toml::node const& node)
{
    using type = toml::node_type;
    constexpr std::array<std::pair<type, std::string_view>, 6> names{{
        {type::string, "a string"},
        {type::integer, "an integer"},
        {type::floating_point, "a float"},
        {type::boolean, "a boolean"},
        {type::array, "an array"},
        {type::table, "a table"},
    }};
    for (auto const& [t, name] : names) {
        if (node.type() == t)
            return std::string{name};
    }
    return "a date or time";
}

/// Walks one table: each key is taken at most once, and whatever is left is an unknown key.
class table_reader
{
  public:
    table_reader(diagnostics const& diag, toml::table const& table, std::string prefix)
        : diag_{diag}
        , table_{table}
        , prefix_{std::move(prefix)}
    {}

    [[nodiscard]] std::string key_path(std::string_view key) const
    {
        return prefix_.empty() ? std::string{key} : prefix_ + "." + std::string{key};
    }

    /// "FILE:LINE:COLUMN: KEY" of a key that is present.
    [[nodiscard]] std::string origin(std::string_view key) const
    {
        auto const* node = table_.get(key);
        return diag_.origin(node != nullptr ? node->source() : table_.source(), key_path(key));
    }

    [[nodiscard]] toml::node const* find(std::string_view key)
    {
        diag_.asked_for(key_path(key));
        seen_.emplace(key);
        return table_.get(key);
    }

    [[noreturn]] void fail(std::string_view key, std::string_view problem) const
    {
        auto const* node = table_.get(key);
        diag_.fail(node != nullptr ? node->source() : table_.source(), key_path(key), problem);
    }

    [[nodiscard]] std::optional<std::string> string(std::string_view key)
    {
        return scalar<std::string>(key, "a string");
    }

    [[nodiscard]] std::string required_string(std::string_view key)
    {
        auto value = string(key);
        if (!value)
            diag_.fail(table_.source(), key_path(key), "missing (required)");
        return *value;
    }

    [[nodiscard]] std::optional<bool> boolean(std::string_view key)
    {
        return scalar<bool>(key, "true or false");
    }

    [[nodiscard]] std::optional<std::int64_t>
    integer(std::string_view key, std::int64_t min, std::int64_t max)
    {
        auto const found = scalar<std::int64_t>(key, "an integer");
        if (!found)
            return std::nullopt;
        auto const value = *found;
        if (value < min || value > max) {
            fail(key, "out of range: " + std::to_string(value) + " (allowed " +
                          std::to_string(min) + " to " + std::to_string(max) + ")");
        }
        return value;
    }

    [[nodiscard]] std::optional<std::chrono::milliseconds> duration(std::string_view key)
    {
        auto const text = string(key);
        if (!text)
            return std::nullopt;
        auto const value = parse_duration(*text);
        if (!value) {
            fail(key, "bad duration \"" + *text +
                          R"(": expected a whole number followed by ms, s, m or h, e.g. "5s")");
        }
        return value;
    }

    [[nodiscard]] std::optional<std::vector<std::string>> strings(std::string_view key)
    {
        auto const* node = find(key);
        if (node == nullptr)
            return std::nullopt;
        auto const* array = node->as_array();
        if (array == nullptr)
            fail(key, "expected an array of strings, found " + type_name(*node));
        std::vector<std::string> out;
        for (auto const& element : *array) {
            if (!element.is_string()) {
                diag_.fail(element.source(), key_path(key),
                           "expected an array of strings, found " + type_name(element) + " in it");
            }
            out.push_back(element.as_string()->get());
        }
        return out;
    }

    [[nodiscard]] toml::table const* subtable(std::string_view key)
    {
        auto const* node = find(key);
        if (node == nullptr)
            return nullptr;
        if (!node->is_table())
            fail(key, "expected a table, found " + type_name(*node));
        return node->as_table();
    }

    /// Refuses any key that no reader asked for (a typo must not be silently ignored).
    void reject_unknown() const
    {
        for (auto const& [key, node] : table_) {
            if (!seen_.contains(key.str()))
                diag_.fail(key.source(), key_path(key.str()), "unknown key");
        }
    }

  private:
    /// A key's value of TOML type T, nullopt when absent; `expected` names T in the error.
    template <class T>
    [[nodiscard]] std::optional<T> scalar(std::string_view key, std::string_view expected)
    {
        auto const* node = find(key);
        if (node == nullptr)
            return std::nullopt;
        auto const* value = node->as<T>();
        if (value == nullptr)
            fail(key, "expected " + std::string{expected} + ", found " + type_name(*node));
        return value->get();
    }

    diagnostics const& diag_;
    toml::table const& table_;
    std::string prefix_;
    std::set<std::string, std::less<>> seen_;
};

fs::path resolve(fs::path const& base, std::string const& value)
{
    fs::path const p{value};
    return (p.is_absolute() ? p : base / p).lexically_normal();
}

/// Empty when `path` can be opened for reading as a regular file, else why not.
std::string check_readable_file(fs::path const& path)
{
    int const fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return "cannot open " + path.string() + ": " + errno_text(errno);
    struct stat st
    {
    };
    int const rc = ::fstat(fd, &st);
    ::close(fd);
    if (rc != 0 || !S_ISREG(st.st_mode))
        return path.string() + " is not a regular file";
    return {};
}

std::string check_readable_dir(fs::path const& path)
{
    int const fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return "cannot open directory " + path.string() + ": " + errno_text(errno);
    ::close(fd);
    return {};
}

/// Addresses of a `listen` key; `at_least_one` for [server], whose default the key replaces.
std::vector<ip::tcp::endpoint> read_listen(table_reader& in, bool at_least_one)
{
    std::vector<ip::tcp::endpoint> out;
    auto listen = in.strings("listen");
    if (!listen)
        return out;
    if (listen->empty() && at_least_one)
        in.fail("listen", "must name at least one address");
    for (auto const& text : *listen) {
        auto const endpoint = parse_listen_address(text);
        if (!endpoint) {
            in.fail("listen",
                    "bad address \"" + text + R"(": expected "HOST:PORT" or "[IPV6]:PORT")");
        }
        out.push_back(*endpoint);
    }
    return out;
}

void read_server(table_reader& in, config& cfg, fs::path const& config_dir)
{
    cfg.server.listen = read_listen(in, true);
    if (auto root = in.string("root"))
        cfg.server.root = resolve(config_dir, *root);
    if (auto threads = in.integer("threads", 0, 1024))
        cfg.server.threads = static_cast<unsigned>(*threads);
    if (auto access_log = in.boolean("access_log"))
        cfg.server.access_log = *access_log;
    if (auto word = in.string("log_target")) {
        if (auto const target = parse_log_target(*word)) {
            cfg.server.log = *target;
        } else {
            in.fail("log_target", R"(expected "auto", "journal" or "stderr")");
        }
    }
    if (auto name = in.string("socket_name")) {
        if (name->empty())
            in.fail("socket_name", "must not be empty");
        cfg.server.socket_name = *name;
    }
    if (auto redirect = in.boolean("redirect_to_https"))
        cfg.server.redirect_to_https = *redirect;
    if (auto overflow = in.string("access_log_overflow")) {
        if (*overflow == "drop") {
            cfg.server.access_log_overflow = log_overflow::drop;
        } else if (*overflow == "wait") {
            cfg.server.access_log_overflow = log_overflow::wait;
        } else {
            in.fail("access_log_overflow", R"(expected "drop" or "wait")");
        }
    }
    if (auto idle = in.string("idle_exit"); idle && *idle == "off") {
        cfg.server.idle_exit = std::chrono::milliseconds{0};
    } else if (auto idle_exit = in.duration("idle_exit")) {
        if (*idle_exit < idle_exit_min) {
            in.fail("idle_exit", "must be \"off\" or at least 10s: systemd refuses a sixth "
                                 "start within 10 s");
        }
        cfg.server.idle_exit = *idle_exit;
    }
    in.reject_unknown();
}

constexpr std::string_view credential_prefix = "credential:";

/// A certificate's chain or key: a path relative to the config file, or a credential.
pem_source read_pem_source(table_reader& in, std::string_view key, fs::path const& config_dir)
{
    auto const text = in.required_string(key);
    pem_source out;
    out.origin = in.origin(key);
    if (text.starts_with(credential_prefix)) {
        auto const name = text.substr(credential_prefix.size());
        // systemd's own rule for credential names: a plain file name in the directory.
        if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
            in.fail(key, "bad credential name \"" + name + "\": must be a plain file name");
        out.credential = name;
        return out;
    }
    if (text.empty())
        in.fail(key, "must name a PEM file or credential:NAME");
    out.file = resolve(config_dir, text);
    return out;
}

/// "TLSv1.2" or "TLSv1.3", as nginx's ssl_protocols and OpenSSL spell them.
std::optional<int> parse_tls_version(std::string_view word)
{
    if (word == "TLSv1.2")
        return tls_1_2;
    if (word == "TLSv1.3")
        return tls_1_3;
    return std::nullopt;
}

void read_tls_protocols(table_reader& in, tls_config& tls)
{
    auto words = in.strings("protocols");
    if (!words)
        return;
    if (words->empty())
        in.fail("protocols", "must name at least one protocol");
    tls.min_version = tls_1_3;
    tls.max_version = tls_1_2;
    for (auto const& word : *words) {
        auto const version = parse_tls_version(word);
        if (!version) {
            in.fail("protocols",
                    "unsupported protocol \"" + word + R"(" ("TLSv1.2" or "TLSv1.3"))");
        }
        tls.min_version = std::min(tls.min_version, *version);
        tls.max_version = std::max(tls.max_version, *version);
    }
}

std::string header_value(table_reader& in, std::string_view key);

void read_tls(table_reader& in, tls_config& tls)
{
    if (auto name = in.string("socket_name")) {
        if (name->empty())
            in.fail("socket_name", "must not be empty");
        tls.socket_name = *name;
    }
    tls.listen = read_listen(in, false);
    read_tls_protocols(in, tls);
    if (auto timeout = in.duration("handshake_timeout")) {
        if (timeout->count() <= 0)
            in.fail("handshake_timeout", "must be longer than 0");
        tls.handshake_timeout = *timeout;
    }
    tls.hsts = header_value(in, "hsts");
}

void read_http2(table_reader& in, http2_config& h2)
{
    if (auto enabled = in.boolean("enabled"))
        h2.enabled = *enabled;
    if (auto cleartext = in.boolean("cleartext"))
        h2.cleartext = *cleartext;
    // RFC 9113 §6.5.2 advises no fewer than 100; beyond a few thousand a client only gains
    // a bigger share of the thread.
    if (auto streams = in.integer("max_concurrent_streams", 1, 10000))
        h2.max_concurrent_streams = static_cast<std::uint32_t>(*streams);
    in.reject_unknown();
}

void read_limits(table_reader& in, limits& lim)
{
    constexpr std::int64_t max_i64 = std::numeric_limits<std::int64_t>::max();
    auto positive_duration = [&in](std::string_view key, std::chrono::milliseconds& out) {
        if (auto value = in.duration(key)) {
            if (value->count() <= 0)
                in.fail(key, "must be longer than 0");
            out = *value;
        }
    };
    positive_duration("header_timeout", lim.header_timeout);
    positive_duration("keepalive_timeout", lim.keepalive_timeout);
    positive_duration("body_timeout", lim.body_timeout);
    positive_duration("send_timeout", lim.send_timeout);
    if (auto value = in.duration("shutdown_grace"))
        lim.shutdown_grace = *value;
    // Beast needs room for at least a request line; 1 GiB is far beyond any sane head.
    if (auto value = in.integer("header_bytes", 256, 1 << 30))
        lim.header_bytes = static_cast<std::uint32_t>(*value);
    if (auto value = in.integer("uri_bytes", 1, 1 << 30))
        lim.uri_bytes = static_cast<std::size_t>(*value);
    if (auto value = in.integer("header_fields", 1, 1 << 20))
        lim.header_fields = static_cast<std::size_t>(*value);
    if (auto value = in.integer("max_ranges", 1, 1024))
        lim.max_ranges = static_cast<std::size_t>(*value);
    if (auto value = in.integer("body_bytes", 0, max_i64))
        lim.body_bytes = static_cast<std::uint64_t>(*value);
    if (auto value = in.integer("max_connections", 1, 1 << 24))
        lim.max_connections = static_cast<std::size_t>(*value);
    if (auto value = in.integer("max_requests_per_connection", 1, max_i64))
        lim.max_requests_per_connection = static_cast<std::size_t>(*value);
    in.reject_unknown();
}

bool valid_url_path(std::string_view path)
{
    if (path.empty() || path.front() != '/')
        return false;
    return std::none_of(path.begin(), path.end(), [](char c) {
        auto const u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f || c == '?' || c == '#' || c == '%';
    });
}

/// An optional string that becomes a header field value as it is.
std::string header_value(table_reader& in, std::string_view key)
{
    auto value = in.string(key);
    if (!value)
        return {};
    bool const printable = std::all_of(value->begin(), value->end(), [](char c) {
        auto const u = static_cast<unsigned char>(c);
        return u >= 0x20 && u != 0x7f;
    });
    if (value->empty() || !printable)
        in.fail(key, "must be a non-empty header value without control bytes");
    return *value;
}

/// A required URL path (a route's path, a static prefix) that needs no decoding to match.
std::string url_path(table_reader& in, std::string_view key)
{
    auto path = in.required_string(key);
    if (!valid_url_path(path)) {
        in.fail(key,
                "\"" + path +
                    "\" must start with '/' and hold no spaces, control bytes, '%', '?' or '#'");
    }
    return path;
}

route_config read_route(table_reader& in, fs::path const& root)
{
    route_config route;
    route.path = url_path(in, "path");
    auto const file = in.required_string("file");
    route.file = resolve(root, file);
    if (auto problem = check_readable_file(route.file); !problem.empty())
        in.fail("file", problem);
    if (auto status = in.integer("status", 200, 599))
        route.status = static_cast<unsigned>(*status);
    if (auto delay = in.duration("delay")) {
        if (delay->count() < 0)
            in.fail("delay", "must not be negative");
        route.delay = *delay;
    }
    if (auto methods = in.strings("methods")) {
        if (methods->empty())
            in.fail("methods", "must name at least one method");
        route.methods = method_set::none;
        for (auto const& m : *methods) {
            if (m == "GET") {
                route.methods = route.methods | method_set::get | method_set::head;
            } else if (m == "HEAD") {
                route.methods = route.methods | method_set::head;
            } else if (m == "POST") {
                route.methods = route.methods | method_set::post;
            } else {
                in.fail("methods", "unsupported method \"" + m + "\" (GET, HEAD or POST)");
            }
        }
    }
    route.content_type = header_value(in, "content_type");
    route.cache_control = header_value(in, "cache_control");
    in.reject_unknown();
    return route;
}

static_config read_static(table_reader& in, fs::path const& config_dir)
{
    static_config st;
    st.prefix = url_path(in, "prefix");
    if (st.prefix.back() != '/')
        st.prefix.push_back('/');
    st.dir = resolve(config_dir, in.required_string("dir"));
    if (auto problem = check_readable_dir(st.dir); !problem.empty())
        in.fail("dir", problem);
    if (auto index = in.string("index")) {
        if (index->empty() || index->find('/') != std::string::npos || *index == "." ||
            *index == "..")
            in.fail("index", "must be a plain file name");
        st.index = *index;
    }
    st.cache_control = header_value(in, "cache_control");
    in.reject_unknown();
    return st;
}

void read_errors(diagnostics const& diag, toml::table const& table, config& cfg)
{
    for (auto const& [key, node] : table) {
        auto const name = std::string{key.str()};
        unsigned status = 0;
        auto const [end, ec] = std::from_chars(name.data(), name.data() + name.size(), status);
        if (ec != std::errc{} || end != name.data() + name.size() || status < 400 || status > 599)
            diag.fail(key.source(), "errors." + name, "expected an HTTP error status (400-599)");
        if (!node.is_string()) {
            diag.fail(node.source(), "errors." + name,
                      "expected a file name string, found " + type_name(node));
        }
        auto const path = resolve(cfg.server.root, node.as_string()->get());
        if (auto problem = check_readable_file(path); !problem.empty())
            diag.fail(node.source(), "errors." + name, problem);
        cfg.error_pages[status] = path;
    }
}

/// Gives every [[route]] or [[static]] element its own reader with a "route[N]" key prefix.
template <class Fn>
void for_each_table_in(diagnostics const& diag, table_reader& top, std::string_view key, Fn&& fn)
{
    auto const* node = top.find(key);
    if (node == nullptr)
        return;
    auto const* array = node->as_array();
    if (array == nullptr)
        top.fail(key, "expected [[" + std::string{key} + "]] tables, found " + type_name(*node));
    std::size_t index = 0;
    for (auto const& element : *array) {
        ++index;
        auto const* table = element.as_table();
        auto const name = top.key_path(key) + "[" + std::to_string(index) + "]";
        if (table == nullptr)
            diag.fail(element.source(), name, "expected a table, found " + type_name(element));
        table_reader reader{diag, *table, name};
        fn(reader);
    }
}

} // namespace

std::string errno_text(int error)
{
    return std::generic_category().message(error);
}

std::optional<log_target> parse_log_target(std::string_view word)
{
    if (word == "auto")
        return log_target::automatic;
    if (word == "journal")
        return log_target::journal;
    if (word == "stderr")
        return log_target::stderr_stream;
    return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text)
{
    std::int64_t number = 0;
    auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc{} || end == text.data() || number < 0)
        return std::nullopt;
    std::string_view const unit{end, static_cast<std::size_t>(text.data() + text.size() - end)};
    std::int64_t scale = 0;
    if (unit == "ms") {
        scale = 1;
    } else if (unit == "s") {
        scale = 1000;
    } else if (unit == "m" || unit == "min") {
        scale = std::int64_t{60} * 1000;
    } else if (unit == "h") {
        scale = std::int64_t{60} * 60 * 1000;
    } else {
        return std::nullopt;
    }
    // A year is more than any timeout needs and keeps every later addition far from overflow.
    constexpr std::int64_t max_ms = std::int64_t{366} * 24 * 60 * 60 * 1000;
    if (number > max_ms / scale)
        return std::nullopt;
    return std::chrono::milliseconds{number * scale};
}

std::optional<ip::tcp::endpoint> parse_listen_address(std::string_view text)
{
    auto const colon = text.rfind(':');
    if (colon == std::string_view::npos)
        return std::nullopt;
    auto host = text.substr(0, colon);
    auto const port_text = text.substr(colon + 1);
    unsigned port = 0;
    auto const [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535 ||
        port_text.empty())
        return std::nullopt;
    ip::address address;
    if (host.empty() || host == "*") {
        address = ip::address_v6::any();
    } else {
        if (host.front() == '[') {
            if (host.size() < 2 || host.back() != ']')
                return std::nullopt;
            host = host.substr(1, host.size() - 2);
        } else if (host.find(':') != std::string_view::npos) {
            return std::nullopt; // an IPv6 address needs brackets to separate the port
        }
        boost::system::error_code bad;
        address = ip::make_address(std::string{host}, bad);
        if (bad)
            return std::nullopt;
    }
    return ip::tcp::endpoint{address, static_cast<unsigned short>(port)};
}

namespace {

toml::table parse_document(std::string_view text, fs::path const& source)
{
    try {
        return toml::parse(text, source.string());
    } catch (toml::parse_error const& e) {
        diagnostics{source}.fail(e.source(), "syntax", e.description());
    }
}

std::string read_whole_file(fs::path const& path)
{
    unique_fd const file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (!file)
        throw config_error{path.string() + ": cannot open: " + errno_text(errno)};
    std::string text;
    std::array<char, 16384> chunk{};
    for (;;) {
        ssize_t const got = ::read(file.get(), chunk.data(), chunk.size());
        if (got == 0)
            return text;
        if (got < 0 && errno != EINTR)
            throw config_error{path.string() + ": cannot read: " + errno_text(errno)};
        if (got > 0)
            text.append(chunk.data(), static_cast<std::size_t>(got));
    }
}

/// Where each value of a key was first given: a repeat, perhaps in another file, is refused
/// naming both places.
class first_places
{
  public:
    void
    claim(table_reader& in, std::string_view key, std::string const& value, std::string_view what)
    {
        auto const [first, fresh] = places_.try_emplace(value, in.origin(key));
        if (!fresh) {
            in.fail(key, "duplicate " + std::string{what} + " \"" + value + "\", first at " +
                             first->second);
        }
    }

  private:
    std::map<std::string, std::string> places_;
};

/// Arrays of tables a drop-in adds to; every other key it sets replaces the main file's.
bool appends(std::string_view table, std::string_view key)
{
    return (table.empty() && (key == "route" || key == "static")) ||
           (table == "tls" && key == "certificate");
}

/// A table that the main file and a drop-in both have: its keys merge one by one.
struct shared_table
{
    std::string name;
    toml::table* into;
    toml::table* addition;
};

/// Moves the keys of `addition` into `into`, the table named `table` ("" for the top level):
/// entries of its arrays of tables are appended, other keys replace those of `into`. At the
/// top level, a table both have is returned instead, for its keys to be merged the same way.
std::vector<shared_table>
merge_keys(toml::table& into, toml::table& addition, std::string_view table)
{
    std::vector<shared_table> shared;
    for (auto&& [key, node] : addition) {
        std::string name{key.str()};
        auto* existing = into.get(name);
        if (existing != nullptr && appends(table, name) && existing->is_array() && node.is_array())
        {
            for (auto& element : *node.as_array())
                existing->as_array()->push_back(std::move(element));
            continue;
        }
        if (existing != nullptr && table.empty() && existing->is_table() && node.is_table()) {
            shared.push_back({std::move(name), existing->as_table(), node.as_table()});
            continue;
        }
        into.insert_or_assign(key, std::move(node)); // the key keeps its file and line
    }
    return shared;
}

/// Merges a drop-in into the document read so far. Each node keeps its file and line, which
/// is how an error names the drop-in.
void merge_drop_in(toml::table& document, toml::table& drop_in)
{
    // [server], [tls], [limits]...: one level down, keys replace keys and [[tls.certificate]]
    // appends; a table inside those (there is none) would be replaced whole.
    for (auto const& table : merge_keys(document, drop_in, ""))
        static_cast<void>(merge_keys(*table.into, *table.addition, table.name));
}

/// The config a document (the main file, drop-ins merged) describes; `source` is the main file.
config build_config(toml::table const& document,
                    fs::path const& source,
                    std::set<std::string>* keys_asked = nullptr);

/// load_config(), collecting the keys looked for in `keys_asked` when given.
config load_with_drop_ins(fs::path const& path, std::set<std::string>* keys_asked);

} // namespace

config parse_config(std::string_view text, fs::path const& source)
{
    auto document = parse_document(text, source);
    return build_config(document, source);
}

namespace {

config
build_config(toml::table const& document, fs::path const& source, std::set<std::string>* keys_asked)
{
    diagnostics const diag{source, keys_asked};
    config cfg;
    cfg.source = fs::absolute(source).lexically_normal();
    auto const config_dir = cfg.source.parent_path();
    cfg.server.root = config_dir;
    cfg.server.listen.emplace_back(ip::address_v6::any(), default_port);

    table_reader top{diag, document, ""};
    if (auto const* server = top.subtable("server")) {
        table_reader in{diag, *server, "server"};
        cfg.server.listen.clear();
        read_server(in, cfg, config_dir);
        if (cfg.server.listen.empty())
            cfg.server.listen.emplace_back(ip::address_v6::any(), default_port);
    }
    if (auto problem = check_readable_dir(cfg.server.root); !problem.empty()) {
        auto const* server = document["server"].as_table();
        auto const* root = server != nullptr ? server->get("root") : nullptr;
        diag.fail(root != nullptr ? root->source() : document.source(), "server.root", problem);
    }
    if (auto const* tls = top.subtable("tls")) {
        table_reader in{diag, *tls, "tls"};
        read_tls(in, cfg.tls);
        for_each_table_in(diag, in, "certificate", [&](table_reader& entry) {
            certificate_config cert;
            cert.chain = read_pem_source(entry, "chain", config_dir);
            cert.key = read_pem_source(entry, "key", config_dir);
            entry.reject_unknown();
            cfg.tls.certificates.push_back(std::move(cert));
        });
        in.reject_unknown();
    }
    if (auto const* h2 = top.subtable("http2")) {
        table_reader in{diag, *h2, "http2"};
        read_http2(in, cfg.http2);
    }
    if (auto const* lim = top.subtable("limits")) {
        table_reader in{diag, *lim, "limits"};
        read_limits(in, cfg.limits);
    }
    first_places route_paths;
    for_each_table_in(diag, top, "route", [&](table_reader& in) {
        auto route = read_route(in, cfg.server.root);
        route_paths.claim(in, "path", route.path, "route");
        cfg.routes.push_back(std::move(route));
    });
    first_places static_prefixes;
    for_each_table_in(diag, top, "static", [&](table_reader& in) {
        auto st = read_static(in, config_dir);
        static_prefixes.claim(in, "prefix", st.prefix, "static prefix");
        cfg.statics.push_back(std::move(st));
    });
    if (auto const* errors = top.subtable("errors"))
        read_errors(diag, *errors, cfg);
    top.reject_unknown();
    return cfg;
}

} // namespace

std::set<std::string> config_keys_read(fs::path const& path)
{
    std::set<std::string> keys;
    static_cast<void>(load_with_drop_ins(path, &keys));
    return keys;
}

std::vector<fs::path> drop_ins_for(fs::path const& path)
{
    auto const dir = fs::absolute(path).lexically_normal().parent_path() / drop_in_dir_name;
    std::vector<fs::path> found;
    std::error_code ec;
    fs::directory_iterator entries{dir, ec};
    if (ec == std::errc::no_such_file_or_directory)
        return found;
    if (ec)
        throw config_error{dir.string() + ": cannot read the drop-in directory: " + ec.message()};
    for (auto const& entry : entries) {
        auto const name = entry.path().filename().string();
        // Editors' and dpkg's leftovers (x.toml~, x.toml.dpkg-old, .x.toml.swp) stay out.
        if (name.ends_with(".toml") && !name.starts_with("."))
            found.push_back(entry.path());
    }
    std::sort(found.begin(), found.end());
    return found;
}

config load_config(fs::path const& path)
{
    return load_with_drop_ins(path, nullptr);
}

namespace {

config load_with_drop_ins(fs::path const& path, std::set<std::string>* keys_asked)
{
    auto document = parse_document(read_whole_file(path), path);
    for (auto const& drop_in : drop_ins_for(path)) {
        auto addition = parse_document(read_whole_file(drop_in), drop_in);
        merge_drop_in(document, addition);
    }
    return build_config(document, path, keys_asked);
}

} // namespace

} // namespace hello_async
