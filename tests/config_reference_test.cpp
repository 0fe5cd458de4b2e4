// hello-async.toml(5) is the reference of the config file: every key the loader accepts has an
// entry there, in its table's section, with its default as the code has it.
#include "hello_async/http/config.hpp"
#include "hello_async/http/limits.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/daemon_process.hpp"

namespace hello_async {
namespace {

using testing::temp_dir;

std::string in_quotes(std::string_view text)
{
    return "\"" + std::string{text} + "\"";
}

std::string yes_no(bool value)
{
    return value ? "true" : "false";
}

/// A duration as the config file writes it: "250ms", "10s".
std::string duration_text(std::chrono::milliseconds value)
{
    if (value.count() % 1000 == 0)
        return std::to_string(value.count() / 1000) + "s";
    return std::to_string(value.count()) + "ms";
}

/// What the entry of each key must say after "Default": from the config structs, where the
/// defaults live. "required" for keys without one.
std::map<std::string, std::string> expected_defaults()
{
    server_config const server;
    tls_config const tls;
    http2_config const http2;
    limits const lim;
    route_config const route;
    static_config const st;
    auto const tls_version = [](int version) {
        return version == tls_1_3 ? std::string{"TLSv1.3"} : std::string{"TLSv1.2"};
    };
    return {
        {"server.listen", "[" + in_quotes("[::]:" + std::to_string(default_port)) + "]"},
        {"server.root", "the directory of the configuration file"},
        {"server.threads", std::to_string(server.threads)},
        {"server.access_log", yes_no(server.access_log)},
        {"server.log_target", in_quotes("auto")},
        {"server.socket_name", in_quotes(server.socket_name)},
        {"server.redirect_to_https", yes_no(server.redirect_to_https)},
        {"server.access_log_overflow", in_quotes("drop")},
        {"server.idle_exit", server.idle_exit.count() == 0 ? in_quotes("off") : "?"},
        {"tls.socket_name", in_quotes(tls.socket_name)},
        {"tls.listen", tls.listen.empty() ? "[]" : "?"},
        {"tls.protocols", "[" + in_quotes(tls_version(tls.min_version)) + ", " +
                              in_quotes(tls_version(tls.max_version)) + "]"},
        {"tls.handshake_timeout", duration_text(tls.handshake_timeout)},
        {"tls.hsts", tls.hsts.empty() ? "none" : "?"},
        {"tls.certificate.chain", "required"},
        {"tls.certificate.key", "required"},
        {"http2.enabled", yes_no(http2.enabled)},
        {"http2.cleartext", yes_no(http2.cleartext)},
        {"http2.max_concurrent_streams", std::to_string(http2.max_concurrent_streams)},
        {"limits.header_timeout", duration_text(lim.header_timeout)},
        {"limits.keepalive_timeout", duration_text(lim.keepalive_timeout)},
        {"limits.body_timeout", duration_text(lim.body_timeout)},
        {"limits.send_timeout", duration_text(lim.send_timeout)},
        {"limits.shutdown_grace", duration_text(lim.shutdown_grace)},
        {"limits.header_bytes", std::to_string(lim.header_bytes)},
        {"limits.uri_bytes", std::to_string(lim.uri_bytes)},
        {"limits.header_fields", std::to_string(lim.header_fields)},
        {"limits.max_ranges", std::to_string(lim.max_ranges)},
        {"limits.body_bytes", std::to_string(lim.body_bytes)},
        {"limits.max_connections", std::to_string(lim.max_connections)},
        {"limits.max_requests_per_connection", std::to_string(lim.max_requests_per_connection)},
        {"route.path", "required"},
        {"route.file", "required"},
        {"route.status", std::to_string(route.status)},
        {"route.delay", duration_text(route.delay)},
        {"route.methods", "[\"GET\", \"HEAD\"]"},
        {"route.content_type", route.content_type.empty() ? "from the file extension" : "?"},
        {"route.cache_control", route.cache_control.empty() ? "none" : "?"},
        {"static.prefix", "required"},
        {"static.dir", "required"},
        {"static.index", in_quotes(st.index)},
        {"static.cache_control", st.cache_control.empty() ? "none" : "?"},
    };
}

/// The arguments of a roff request line: quoted ones may hold spaces, "" inside is one quote.
std::vector<std::string> roff_arguments(std::string_view line)
{
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && line[i] == ' ')
            ++i;
        if (i == line.size())
            break;
        std::string arg;
        if (line[i] == '"') {
            for (++i; i < line.size(); ++i) {
                if (line[i] == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                    arg += '"';
                    ++i;
                } else if (line[i] == '"') {
                    ++i;
                    break;
                } else {
                    arg += line[i];
                }
            }
        } else {
            while (i < line.size() && line[i] != ' ')
                arg += line[i++];
        }
        out.push_back(arg);
    }
    return out;
}

/// One line of the page as a reader sees it: font requests joined, escapes resolved.
std::string rendered(std::string const& line)
{
    std::string text;
    if (line.starts_with(".")) {
        auto const space = line.find(' ');
        auto const request = line.substr(1, space == std::string::npos ? line.size() : space - 1);
        if (space == std::string::npos)
            return "";
        auto const args = roff_arguments(std::string_view{line}.substr(space + 1));
        // .BR, .IR, .RB ...: the arguments alternate fonts with no space between them.
        bool const alternating = request.size() == 2;
        for (auto const& arg : args)
            text += (text.empty() || alternating ? "" : " ") + arg;
    } else {
        text = line;
    }
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text.compare(i, 2, "\\-") == 0) {
            out += '-';
            ++i;
        } else if (text.compare(i, 4, "\\(dq") == 0) {
            out += '"';
            i += 3;
        } else {
            out += text[i];
        }
    }
    return out;
}

/// "table.key" -> the text of its entry: a ".TP" paragraph whose tag is the key, in the
/// section ".SH [table]" or ".SH [[table]]".
std::map<std::string, std::string> entries_of_page(std::string const& page)
{
    std::map<std::string, std::string> out;
    std::istringstream in{page};
    std::string line;
    std::string table;
    std::string key;
    bool tag_next = false;
    while (std::getline(in, line)) {
        if (line.starts_with(".SH ")) {
            auto name = line.substr(4);
            table.clear();
            key.clear();
            if (name.starts_with("[")) {
                name.erase(0, name.find_first_not_of('['));
                table = name.substr(0, name.find(']'));
            }
            continue;
        }
        if (line == ".TP") {
            tag_next = true;
            key.clear();
            continue;
        }
        if (table.empty())
            continue;
        if (tag_next) {
            tag_next = false;
            key = table + "." + rendered(line);
            out[key];
            continue;
        }
        if (!key.empty())
            out[key] += " " + rendered(line);
    }
    return out;
}

TEST(config_reference, every_key_has_an_entry_with_its_default_in_hello_async_toml_5)
{
    // Every table present, so that the loader looks for each of its keys.
    temp_dir dir;
    dir.write("www/hello.html", "hi\n");
    auto const config = dir.write("hello-async.toml", R"([server]
root = "www"
[tls]
[[tls.certificate]]
chain = "credential:chain"
key = "credential:key"
[http2]
[limits]
[errors]
[[route]]
path = "/"
file = "hello.html"
[[static]]
prefix = "/s/"
dir = "www"
)");
    auto const keys = config_keys_read(config);
    auto const defaults = expected_defaults();
    // Tables ("server", "tls.certificate") are looked for too: their keys are what counts.
    auto const is_table = [&keys](std::string const& key) {
        auto const next = keys.upper_bound(key);
        return key.find('.') == std::string::npos ||
               (next != keys.end() && next->starts_with(key + "."));
    };
    std::vector<std::string> accepted;
    for (auto const& key : keys) {
        if (!is_table(key))
            accepted.push_back(key);
    }
    std::vector<std::string> listed;
    for (auto const& [key, value] : defaults)
        listed.push_back(key);
    // A key added to the loader needs its default here, and then its entry in the page.
    EXPECT_EQ(accepted, listed);

    std::ifstream file{std::string{HELLO_ASYNC_SOURCE_DIR} + "/packaging/man/hello-async.toml.5"};
    ASSERT_TRUE(file) << "hello-async.toml.5 not found";
    std::ostringstream page;
    page << file.rdbuf();
    auto const entries = entries_of_page(page.str());
    for (auto const& key : keys) {
        if (is_table(key))
            continue;
        auto const entry = entries.find(key);
        if (entry == entries.end()) {
            ADD_FAILURE() << key << ": no entry in hello-async.toml(5)";
            continue;
        }
        auto const& expected = defaults.at(key);
        auto const wanted =
            expected == "required" ? std::string{"Required."} : "Default " + expected + ".";
        EXPECT_NE(entry->second.find(wanted), std::string::npos)
            << key << ": the entry does not say \"" << wanted << "\":" << entry->second;
    }
}

} // namespace
} // namespace hello_async
