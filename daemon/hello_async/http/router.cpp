#include "hello_async/http/router.hpp"

#include "hello_async/http/mime_types.hpp"
#include "hello_async/http/request_path.hpp"

#include <boost/beast/http/status.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <ostream>
#include <tuple>

namespace hello_async {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view static_allow{"GET, HEAD, OPTIONS"};
constexpr std::string_view html_type{"text/html; charset=utf-8"};

std::string allow_header(method_set methods)
{
    std::string out;
    auto add = [&out](std::string_view name) {
        if (!out.empty())
            out += ", ";
        out += name;
    };
    if (contains(methods, method_set::get))
        add("GET");
    if (contains(methods, method_set::head))
        add("HEAD");
    if (contains(methods, method_set::post))
        add("POST");
    add("OPTIONS");
    return out;
}

bool allowed(method_set methods, http::verb method)
{
    switch (method) {
    case http::verb::get:
        return contains(methods, method_set::get);
    case http::verb::head:
        return contains(methods, method_set::head);
    case http::verb::post:
        return contains(methods, method_set::post);
    default:
        return false;
    }
}

/// Swaps `found` for a precompressed sibling (NAME.br, NAME.gz) when the client accepts its
/// coding and one exists; `open_named` opens a name the same way the original was opened.
/// Whenever a sibling exists, the answer depends on Accept-Encoding, the identity answer too:
/// it says so with Vary (RFC 9110 §12.5.5), or a shared cache would hand it to every client.
template <class OpenNamed>
void choose_representation(route_result& plan,
                           accepted_codings codings,
                           int dir_fd,
                           std::string const& name,
                           OpenNamed&& open_named)
{
    bool const any_sibling = plan.file.precompressed_sibling
                                 ? *plan.file.precompressed_sibling
                                 : has_precompressed_sibling(dir_fd, name);
    if (!any_sibling)
        return;
    plan.varies_by_encoding = true;
    for (auto const& [accepted, suffix, coding] :
         {std::tuple{codings.br, ".br", std::string_view{"br"}},
          std::tuple{codings.gzip, ".gz", std::string_view{"gzip"}}})
    {
        if (!accepted)
            continue;
        auto sibling = open_named(name + suffix);
        if (sibling.result != file_lookup::outcome::found)
            continue;
        plan.file = std::move(sibling.file);
        plan.content_coding = coding;
        return;
    }
}

/// The body for a status without a configured page.
std::string built_in_page(unsigned status)
{
    auto const reason = http::obsolete_reason(static_cast<http::status>(status));
    std::string title = std::to_string(status);
    title += ' ';
    title.append(reason.data(), reason.size());
    return "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>" + title +
           "</title></head>\n<body><h1>" + title + "</h1></body>\n</html>\n";
}

/// The error for a file that could not be opened: a server short of descriptors is a passing
/// condition (503, try again shortly), not a refusal of the file (403).
route_result lookup_failure(router const& routes, file_lookup::outcome outcome)
{
    switch (outcome) {
    case file_lookup::outcome::out_of_descriptors: {
        auto result = routes.error(503);
        result.retry_after = "1";
        return result;
    }
    case file_lookup::outcome::forbidden:
        return routes.error(403);
    default:
        return routes.error(404);
    }
}

} // namespace

router::router(config const& cfg)
    : error_pages_{cfg.error_pages}
{
    auto any_resource = method_set::none;
    for (auto const& r : cfg.routes) {
        routes_.push_back({r, allow_header(r.methods), mime_type_for(r.file.native())});
        any_resource = any_resource | r.methods;
    }
    if (!cfg.statics.empty())
        any_resource = any_resource | method_set::get | method_set::head;
    server_allow_ = allow_header(any_resource);
    std::sort(routes_.begin(), routes_.end(),
              [](auto const& a, auto const& b) { return a.cfg.path < b.cfg.path; });
    for (auto const& s : cfg.statics) {
        unique_fd dir{::open(s.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
        if (!dir) {
            throw config_error{cfg.source.string() + ": static.dir: cannot open directory " +
                               s.dir.string() + ": " + errno_text(errno)};
        }
        statics_.push_back({s, std::move(dir)});
    }
    std::stable_sort(statics_.begin(), statics_.end(), [](auto const& a, auto const& b) {
        return a.cfg.prefix.size() > b.cfg.prefix.size();
    });
}

route_result router::route(resource_request const& request) const
{
    auto const method = request.method;
    auto const path = request.path;
    auto const exact =
        std::lower_bound(routes_.begin(), routes_.end(), path,
                         [](route_entry const& r, std::string_view p) { return r.cfg.path < p; });
    if (exact != routes_.end() && exact->cfg.path == path)
        return serve_route(*exact, request);

    for (auto const& st : statics_) {
        std::string_view const prefix = st.cfg.prefix;
        if (path.starts_with(prefix))
            return serve_static(st, request);
        // "/static" names the directory "/static/": send the client to the slash form.
        if (path.size() + 1 == prefix.size() && prefix.starts_with(path)) {
            if (method != http::verb::get && method != http::verb::head)
                return not_allowed(method, static_allow);
            return redirect_to(std::string{prefix}, request.query);
        }
    }
    return error(404);
}

route_result router::redirect_to(std::string location, std::string_view query) const
{
    auto plan = error(301);
    plan.location = std::move(location);
    // The query belongs to the resource as much as the path does (RFC 3986 §3.4): keep it.
    if (!query.empty()) {
        plan.location += '?';
        plan.location += query;
    }
    return plan;
}

route_result router::not_allowed(http::verb method, std::string_view allow) const
{
    route_result plan;
    if (method == http::verb::options) {
        plan.status = 204;
    } else {
        plan = error(405);
    }
    plan.allow = allow;
    return plan;
}

route_result router::serve_route(route_entry const& route, resource_request const& request) const
{
    if (!allowed(route.cfg.methods, request.method))
        return not_allowed(request.method, route.allow);
    auto found = open_configured(route.cfg.file);
    if (found.result != file_lookup::outcome::found) {
        // The file was there when the config was loaded; a vanished file is the server's fault.
        return lookup_failure(*this, found.result);
    }
    route_result plan;
    plan.status = route.cfg.status;
    plan.file = std::move(found.file);
    plan.is_resource = plan.status == 200;
    plan.content_type =
        route.cfg.content_type.empty() ? route.file_type : std::string_view{route.cfg.content_type};
    plan.cache_control = route.cfg.cache_control;
    plan.delay = route.cfg.delay;
    choose_representation(plan, request.codings, AT_FDCWD, route.cfg.file.native(),
                          [](auto const& name) { return open_configured(name); });
    return plan;
}

route_result router::serve_static(static_entry const& st, resource_request const& request) const
{
    auto const method = request.method;
    auto const path = request.path;
    if (method != http::verb::get && method != http::verb::head)
        return not_allowed(method, static_allow);
    std::string relative{path.substr(st.cfg.prefix.size())};
    auto found = open_beneath(st.dir.get(), relative);
    if (found.result == file_lookup::outcome::is_directory) {
        if (!path.ends_with('/')) {
            return redirect_to(encode_path(path) + '/', request.query);
        }
        relative += st.cfg.index;
        found = open_beneath(st.dir.get(), relative);
        // No listings: a directory without an index is not for reading.
        if (found.result == file_lookup::outcome::is_directory ||
            found.result == file_lookup::outcome::not_found)
            return error(403);
    }
    if (found.result != file_lookup::outcome::found)
        return lookup_failure(*this, found.result);
    route_result plan;
    plan.file = std::move(found.file);
    plan.is_resource = true;
    plan.content_type = mime_type_for(relative);
    plan.cache_control = st.cfg.cache_control;
    choose_representation(plan, request.codings, st.dir.get(), relative,
                          [&st](auto const& name) { return open_beneath(st.dir.get(), name); });
    return plan;
}

route_result router::error(unsigned status) const
{
    route_result plan;
    plan.status = status;
    if (auto const page = error_pages_.find(status); page != error_pages_.end()) {
        auto found = open_configured(page->second);
        if (found.result == file_lookup::outcome::found) {
            plan.file = std::move(found.file);
            plan.content_type = mime_type_for(page->second.native());
            return plan;
        }
    }
    plan.built_in_body = built_in_page(status);
    plan.content_type = html_type;
    return plan;
}

} // namespace hello_async
