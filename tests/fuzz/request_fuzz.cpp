// libFuzzer target: raw bytes from a client -> head checks -> Beast's parser -> framing ->
// target normalisation -> routing (a small site on disk) -> validators -> the response head.
#include "hello_async/conditional.hpp"
#include "hello_async/config.hpp"
#include "hello_async/request_head.hpp"
#include "hello_async/request_path.hpp"
#include "hello_async/response.hpp"
#include "hello_async/router.hpp"

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string_view>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using namespace hello_async;

std::unique_ptr<router> site_router;
limits site_limits;

void write(fs::path const& path, std::string_view text)
{
    fs::create_directories(path.parent_path());
    std::ofstream{path} << text;
}

std::optional<std::string_view> field(http::request_header<> const& req, http::field f)
{
    auto const it = req.find(f);
    if (it == req.end())
        return std::nullopt;
    return std::string_view{it->value()};
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/)
{
    auto const dir = fs::temp_directory_path() / ("hello-async-fuzz-" + std::to_string(::getpid()));
    write(dir / "hello.html", "<h1>hi</h1>");
    write(dir / "404.html", "missing");
    write(dir / "pub/index.html", "index");
    write(dir / "pub/a.css", "css");
    write(dir / "pub/a.css.gz", "gz");
    write(dir / "site.toml",
          "[[route]]\npath = \"/\"\nfile = \"hello.html\"\n"
          "[[route]]\npath = \"/post\"\nfile = \"hello.html\"\nmethods = [\"POST\"]\n"
          "[[static]]\nprefix = \"/pub/\"\ndir = \"pub\"\n"
          "[errors]\n404 = \"404.html\"\n");
    auto const cfg = load_config(dir / "site.toml");
    site_limits = cfg.limits;
    site_router = std::make_unique<router>(cfg);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    std::string_view input{reinterpret_cast<char const*>(data), size};
    auto const end = find_head_end(input);
    if (end == std::string_view::npos || !head_is_clean(input.substr(0, end)))
        return 0;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(site_limits.header_bytes));
    parser.eager(false);
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(input.data(), end), ec);
    if (ec || !parser.is_header_done())
        return 0;
    auto const& req = parser.get().base();
    if (framing_problem_of(req, site_limits))
        return 0;
    auto const normalized = normalize_target(req.target());
    if (normalized.result != normalized_target::outcome::ok)
        return 0;
    if (normalized.path.empty() || normalized.path.front() != '/' ||
        normalized.path.find("/../") != std::string::npos ||
        normalized.path.find("/./") != std::string::npos)
        std::abort(); // normalisation left a dot segment or lost the leading slash

    resource_request const request{req.method(), normalized.path,
                                   parse_accept_encoding(field(req, http::field::accept_encoding))};
    auto plan = site_router->route(request);
    response_head head;
    head.status = plan.status;
    head.content_type = plan.content_type;
    head.content_length = plan.file.size;
    head.allow = plan.allow;
    head.location = plan.location;
    std::string etag;
    if (plan.is_resource) {
        etag = make_etag(plan.file.inode, plan.file.size, plan.file.mtime, plan.content_coding);
        conditions const c{field(req, http::field::if_match),
                           field(req, http::field::if_none_match),
                           field(req, http::field::if_modified_since),
                           field(req, http::field::if_unmodified_since)};
        static_cast<void>(evaluate_preconditions(c, true, etag, plan.file.mtime.tv_sec));
        if (auto range = field(req, http::field::range)) {
            auto const r = evaluate_range(*range, field(req, http::field::if_range), etag,
                                          plan.file.mtime.tv_sec, plan.file.size);
            if (r.result == range_request::outcome::partial &&
                (r.range.last < r.range.first || r.range.last >= plan.file.size))
                std::abort(); // a range outside the file
        }
        head.etag = etag;
    }
    std::string out;
    append_response_head(out, head);
    // The location header echoes the client's path: it must not be able to inject a line.
    auto const body_start = out.find("\r\n\r\n");
    if (body_start + 4 != out.size() || head.location.find_first_of("\r\n") != std::string::npos)
        std::abort();
    return 0;
}
