#include "hello_async/http/answer.hpp"

#include "hello_async/http/accept_encoding.hpp"
#include "hello_async/http/etag.hpp"
#include "hello_async/http/http_date.hpp"
#include "hello_async/http/preconditions.hpp"
#include "hello_async/http/ranges.hpp"
#include "hello_async/http/request_path.hpp"

#include <array>
#include <optional>
#include <random>
#include <utility>

namespace hello_async {
namespace {

namespace http = boost::beast::http;

/// The request fields an answer depends on, each the first of its name: found in one pass over
/// the head instead of a lookup by name for each.
struct answer_fields
{
    std::optional<std::string_view> accept_encoding;
    std::optional<std::string_view> if_match;
    std::optional<std::string_view> if_none_match;
    std::optional<std::string_view> if_modified_since;
    std::optional<std::string_view> if_unmodified_since;
    std::optional<std::string_view> range;
    std::optional<std::string_view> if_range;
};

/// The member of `fields` that a field of this name fills; null for a field no answer reads.
std::optional<std::string_view>* slot_for(answer_fields& fields, http::field name)
{
    switch (name) {
    case http::field::accept_encoding:
        return &fields.accept_encoding;
    case http::field::if_match:
        return &fields.if_match;
    case http::field::if_none_match:
        return &fields.if_none_match;
    case http::field::if_modified_since:
        return &fields.if_modified_since;
    case http::field::if_unmodified_since:
        return &fields.if_unmodified_since;
    case http::field::range:
        return &fields.range;
    case http::field::if_range:
        return &fields.if_range;
    default:
        return nullptr;
    }
}

answer_fields fields_of(request_head const& request)
{
    answer_fields out;
    for (auto const& field : request) {
        if (auto* const slot = slot_for(out, field.name()); slot != nullptr && !*slot)
            *slot = field.value();
    }
    return out;
}

response_text& text_of(response_plan& plan)
{
    if (!plan.text)
        plan.text = std::make_unique<response_text>();
    return *plan.text;
}

/// A plan that so far holds only what the connection decided.
response_plan plan_for(answer_terms terms, bool must_close)
{
    response_plan plan;
    plan.must_close = must_close;
    plan.head.keep_alive = terms.keep_alive && !must_close;
    plan.head.client_is_http10 = terms.client_is_http10;
    plan.head.strict_transport_security = terms.strict_transport_security;
    return plan;
}

/// The same connection terms, without anything a resource had put into the plan: for an error
/// page replacing that resource.
response_plan fresh_plan(response_plan const& old)
{
    response_plan plan;
    plan.must_close = old.must_close;
    plan.head.keep_alive = old.head.keep_alive;
    plan.head.client_is_http10 = old.head.client_is_http10;
    plan.head.strict_transport_security = old.head.strict_transport_security;
    return plan;
}

/// The part of a file a response carries.
struct body_span
{
    std::uint64_t offset{0};
    std::uint64_t length{0};
};

body_span whole_file(route_result const& result)
{
    return {0, result.file.size};
}

/// Completes `plan` with the status, fields and body of a routing result; `span` of its file,
/// or its built-in page.
response_plan with_body(route_result result, body_span span, bool head_request, response_plan plan)
{
    auto& head = plan.head;
    head.status = result.status;
    head.content_type = result.content_type;
    head.allow = result.allow;
    head.retry_after = result.retry_after;
    if (!result.location.empty()) {
        auto& text = text_of(plan);
        text.location = std::move(result.location);
        head.location = text.location;
    }
    bool const has_file = result.file.has_body();
    head.content_length = has_file ? span.length : result.built_in_body.size();
    plan.send_body = !head_request;
    if (result.status == 204 || result.status == 304) {
        head.omit_content_length = true; // RFC 9110 §8.6: no body, and no length to claim
        head.content_type = {};
        plan.send_body = false;
    }
    auto& body = plan.body;
    if (!has_file) {
        body.bytes = std::move(result.built_in_body);
        body.length = body.bytes.size();
        return plan;
    }
    // Kept even when no body is sent: a cached file's validators in the head point into it.
    body.cached = std::move(result.file.content);
    body.file = std::move(result.file.fd);
    body.offset = span.offset;
    body.length = span.length;
    return plan;
}

conditions conditions_of(answer_fields const& fields)
{
    return {fields.if_match, fields.if_none_match, fields.if_modified_since,
            fields.if_unmodified_since};
}

/// Puts the representation's validators and metadata into the head (RFC 9110 §8.8).
response_plan describe_representation(route_result const& resource, response_plan plan)
{
    auto const& file = resource.file;
    auto& head = plan.head;
    if (!file.cached_etag.empty() && resource.content_coding.empty()) {
        head.etag = file.cached_etag;
        head.last_modified = file.cached_last_modified;
    } else {
        auto& text = text_of(plan);
        text.etag = make_etag(file.inode, file.size, file.mtime, resource.content_coding);
        text.last_modified = format_http_date(file.mtime.tv_sec);
        head.etag = text.etag;
        head.last_modified = text.last_modified;
    }
    head.accept_ranges = true;
    head.content_encoding = resource.content_coding;
    head.vary_accept_encoding = resource.varies_by_encoding;
    head.cache_control = resource.cache_control;
    return plan;
}

/// A boundary no file is likely to contain, new for every response (RFC 2046 §5.1.1).
std::string random_boundary()
{
    constexpr std::string_view alphabet{
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"};
    thread_local std::mt19937_64 generator{std::random_device{}()};
    std::uniform_int_distribution<std::size_t> pick{0, alphabet.size() - 1};
    std::string out(24, '0');
    for (auto& c : out)
        c = alphabet[pick(generator)];
    return out;
}

/// 206 multipart/byteranges (RFC 9110 §14.6): each range a part with its own Content-Type and
/// Content-Range, in ascending order, the length of the whole known before the first byte.
response_plan
plan_multipart(std::vector<byte_range> const& ranges, route_result resource, response_plan plan)
{
    auto const size = resource.file.size;
    auto const boundary = random_boundary();
    auto& text = text_of(plan);
    text.content_type = "multipart/byteranges; boundary=" + boundary;
    std::vector<body_part> parts;
    std::uint64_t total = 0;
    for (auto const& range : ranges) {
        body_part part;
        part.text = "\r\n--" + boundary +
                    "\r\nContent-Type: " + std::string{resource.content_type} +
                    "\r\nContent-Range: bytes " + std::to_string(range.first) + "-" +
                    std::to_string(range.last) + "/" + std::to_string(size) + "\r\n\r\n";
        part.offset = range.first;
        part.length = range.length();
        total += part.text.size() + part.length;
        parts.push_back(std::move(part));
    }
    parts.push_back(body_part{"\r\n--" + boundary + "--\r\n", 0, 0});
    total += parts.back().text.size();
    resource.status = 206;
    plan = with_body(std::move(resource), {0, total}, false, std::move(plan));
    plan.head.content_type = plan.text->content_type;
    plan.body.offset = 0;
    plan.body.parts = std::move(parts);
    return plan;
}

/// 206 for satisfiable ranges, 416 for none, else the whole representation (RFC 9110 §14).
response_plan plan_range(site const& site,
                         answer_fields const& fields,
                         std::string_view range,
                         route_result resource,
                         response_plan plan)
{
    auto const& file = resource.file;
    auto const wanted = evaluate_range(range, fields.if_range, plan.head.etag, file.mtime.tv_sec,
                                       file.size, site.cfg.limits.max_ranges);
    switch (wanted.result) {
    case range_request::outcome::full:
        break;
    case range_request::outcome::partial: {
        if (wanted.ranges.size() > 1)
            return plan_multipart(wanted.ranges, std::move(resource), std::move(plan));
        auto const& only = wanted.ranges.front();
        resource.status = 206;
        auto& text = text_of(plan);
        text.content_range = "bytes " + std::to_string(only.first) + "-" +
                             std::to_string(only.last) + "/" + std::to_string(file.size);
        plan.head.content_range = text.content_range;
        body_span const span{only.first, only.length()};
        return with_body(std::move(resource), span, false, std::move(plan));
    }
    case range_request::outcome::unsatisfiable: {
        auto page = site.routes.error(416);
        auto refused = fresh_plan(plan);
        auto& text = text_of(refused);
        text.content_range = "bytes */" + std::to_string(file.size);
        refused.head.content_range = text.content_range;
        auto const span = whole_file(page);
        return with_body(std::move(page), span, false, std::move(refused));
    }
    }
    auto const span = whole_file(resource);
    return with_body(std::move(resource), span, false, std::move(plan));
}

/// Validators, preconditions and ranges for a resource's representation (RFC 9110 §8.8, §13,
/// §14).
response_plan plan_resource(site const& site,
                            request_head const& request,
                            answer_fields const& fields,
                            route_result resource,
                            response_plan plan)
{
    plan = describe_representation(resource, std::move(plan));
    auto const method = request.method();
    bool const get_or_head = method == http::verb::get || method == http::verb::head;
    bool const head_request = method == http::verb::head;
    switch (evaluate_preconditions(conditions_of(fields), get_or_head, plan.head.etag,
                                   resource.file.mtime.tv_sec))
    {
    case precondition::not_modified: {
        resource.status = 304;
        auto const span = whole_file(resource);
        return with_body(std::move(resource), span, true, std::move(plan));
    }
    case precondition::failed: {
        auto page = site.routes.error(412);
        auto const span = whole_file(page);
        return with_body(std::move(page), span, head_request, fresh_plan(plan));
    }
    case precondition::proceed:
        break;
    }
    if (fields.range && method == http::verb::get)
        return plan_range(site, fields, *fields.range, std::move(resource), std::move(plan));
    auto const span = whole_file(resource);
    return with_body(std::move(resource), span, head_request, std::move(plan));
}

/// A routing result, and whether the request was too broken to keep the connection for.
struct routing
{
    route_result result;
    bool must_close{false};
};

routing
route_request(router const& routes, request_head const& request, answer_fields const& fields)
{
    auto const method = request.method();
    std::string_view const target = request.target();
    // RFC 9112 §2.3: a higher HTTP/1.x minor version is served as HTTP/1.1; another major
    // version cannot be spoken here at all.
    if (request.version() / 10 != 1)
        return {routes.error(505), true};
    if (method == http::verb::unknown)
        return {routes.error(501), false};
    if (method == http::verb::connect) {
        // An origin server tunnels nothing; check_request_head() refused a malformed target.
        auto refused = routes.error(405);
        refused.allow = routes.server_allow();
        return {std::move(refused), false};
    }
    if (target == "*") {
        if (method != http::verb::options)
            return {routes.error(400), true};
        route_result options;
        options.status = 204;
        options.allow = routes.server_allow();
        return {std::move(options), false};
    }
    auto const normalized = normalize_target(target);
    switch (normalized.result) {
    case normalized_target::outcome::ok:
        break;
    case normalized_target::outcome::nul_byte:
        return {routes.error(404), false};
    case normalized_target::outcome::bad_request:
        return {routes.error(400), true};
    }
    resource_request const resource{
        method, normalized.path, parse_accept_encoding(fields.accept_encoding), normalized.query};
    return {routes.route(resource), false};
}

/// The path and query of a target in origin or absolute form ("/" for any other form).
std::string_view path_and_query(std::string_view target)
{
    if (target.starts_with('/'))
        return target;
    auto const scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos)
        return "/";
    auto const path = target.find('/', scheme_end + 3);
    return path == std::string_view::npos ? "/" : target.substr(path);
}

/// server.redirect_to_https: the same target, over HTTPS, for a request that named its host.
std::optional<route_result>
redirect_to_https(router const& routes, request_head const& request, answer_terms terms)
{
    if (terms.https_redirect_host == nullptr || terms.https_redirect_host->host.empty() ||
        request.version() / 10 != 1 || request.target() == "*" ||
        request.method() == http::verb::connect)
        return std::nullopt;
    auto moved = routes.error(308);
    moved.location = "https://" + terms.https_redirect_host->host;
    if (terms.https_port != 443)
        moved.location += ":" + std::to_string(terms.https_port);
    moved.location += path_and_query(request.target());
    return moved;
}

response_plan
answer_unless_delayed(site const& site, request_head const& request, answer_terms terms, bool delay)
{
    if (auto moved = redirect_to_https(site.routes, request, terms)) {
        auto const span = whole_file(*moved);
        return with_body(std::move(*moved), span, request.method() == http::verb::head,
                         plan_for(terms, false));
    }
    auto const fields = fields_of(request);
    auto routed = route_request(site.routes, request, fields);
    if (delay && routed.result.delay.count() > 0) {
        response_plan later;
        later.delay = routed.result.delay;
        return later;
    }
    auto plan = plan_for(terms, routed.must_close);
    if (routed.result.is_resource)
        return plan_resource(site, request, fields, std::move(routed.result), std::move(plan));
    auto const span = whole_file(routed.result);
    return with_body(std::move(routed.result), span, request.method() == http::verb::head,
                     std::move(plan));
}

} // namespace

response_plan answer(site const& site, request_head const& request, answer_terms terms)
{
    return answer_unless_delayed(site, request, terms, true);
}

response_plan answer_after_delay(site const& site, request_head const& request, answer_terms terms)
{
    return answer_unless_delayed(site, request, terms, false);
}

response_plan answer_refusal(site const& site, unsigned status)
{
    auto page = site.routes.error(status);
    auto const span = whole_file(page);
    return with_body(std::move(page), span, false, plan_for({false, false}, true));
}

} // namespace hello_async
