#pragma once

#include "hello_async/http/accept_encoding.hpp"
#include "hello_async/http/config.hpp"
#include "hello_async/http/static_files.hpp"
#include "hello_async/http/unique_fd.hpp"

#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace hello_async {

/// What routing found: a status, and a file or a built-in body. Views point into the router, which
/// outlives every plan it makes.
struct route_result
{
    unsigned status{200};
    open_file file;            ///< body when file.fd is open
    std::string built_in_body; ///< body when no file could be used
    std::string_view content_type;
    std::chrono::milliseconds delay{0};
    std::string_view allow;       ///< 405 and OPTIONS
    std::string location;         ///< 301
    std::string_view retry_after; ///< 503
    std::string_view cache_control;
    std::string_view content_coding; ///< "br" or "gzip" when a precompressed sibling is sent
    bool varies_by_encoding{false};  ///< a precompressed sibling exists: Vary: Accept-Encoding
    /// A resource's representation (not an error page): ETag, Last-Modified, ranges apply.
    bool is_resource{false};
};

/// What routing needs from a request.
struct resource_request
{
    boost::beast::http::verb method{boost::beast::http::verb::get};
    std::string_view path;
    accepted_codings codings;
    std::string_view query{}; ///< after '?', for a redirect to carry along
};

/// Maps method + normalized path to a response plan. No sockets: everything here is testable
/// against a directory tree.
class router
{
  public:
    /// Opens every static directory; throws config_error when one has become unusable.
    explicit router(config const& cfg);

    /// Exact [[route]] first, then the longest [[static]] prefix, else the 404 page.
    [[nodiscard]] route_result route(resource_request const& request) const;

    /// The configured page for an error status, or a small built-in one.
    [[nodiscard]] route_result error(unsigned status) const;

    /// The Allow value for "OPTIONS *" and CONNECT: the methods some resource accepts.
    [[nodiscard]] std::string_view server_allow() const { return server_allow_; }

  private:
    struct route_entry
    {
        route_config cfg;
        std::string allow;
        /// The file's type by its name, found once: a view into the static table.
        std::string_view file_type;
    };
    struct static_entry
    {
        static_config cfg;
        unique_fd dir;
    };

    [[nodiscard]] route_result serve_route(route_entry const& route,
                                           resource_request const& request) const;
    [[nodiscard]] route_result serve_static(static_entry const& st,
                                            resource_request const& request) const;
    [[nodiscard]] route_result redirect_to(std::string location, std::string_view query) const;
    [[nodiscard]] route_result not_allowed(boost::beast::http::verb method,
                                           std::string_view allow) const;

    std::vector<route_entry> routes_;   // sorted by path
    std::vector<static_entry> statics_; // longest prefix first
    std::map<unsigned, std::filesystem::path> error_pages_;
    std::string server_allow_;
};

} // namespace hello_async
