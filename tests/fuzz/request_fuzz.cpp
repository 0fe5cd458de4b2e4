// libFuzzer target: raw bytes from a client -> head checks -> Beast's parser -> head rules
// (framing, Host, Expect) -> the body reader -> answer() over a small site on disk -> the
// response head, as a connection runs them.
#include "hello_async/http/answer.hpp"
#include "hello_async/http/config.hpp"
#include "hello_async/http/request_body.hpp"
#include "hello_async/http/request_head.hpp"
#include "hello_async/http/request_path.hpp"
#include "hello_async/http/response.hpp"
#include "hello_async/http/site.hpp"

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

std::unique_ptr<site const> fuzz_site;

void write(fs::path const& path, std::string_view text)
{
    fs::create_directories(path.parent_path());
    std::ofstream{path} << text;
}

/// Fails the run when a plan is inconsistent: a body outside its file, a length that does not
/// match the body, or a head that a client could make span more than one header section.
void check(response_plan const& plan)
{
    auto const& body = plan.body;
    if (body.parts.empty() && body.cached && body.offset + body.length > body.cached->size())
        std::abort(); // a range outside the file
    std::uint64_t parts_length = 0;
    for (auto const& part : body.parts) {
        if (body.cached && part.offset + part.length > body.cached->size())
            std::abort();
        parts_length += part.text.size() + part.length;
    }
    if (!body.parts.empty() && parts_length != body.length)
        std::abort(); // Content-Length would not match the multipart body
    if (!body.bytes.empty() && plan.head.content_length != body.bytes.size())
        std::abort();
    if (plan.send_body && !plan.head.omit_content_length && plan.head.content_length != body.length)
        std::abort(); // Content-Length would promise other bytes than the body has
    std::string out;
    append_response_head(out, plan.head);
    // The location header echoes the client's path: it must not be able to inject a line.
    if (out.find("\r\n\r\n") + 4 != out.size() ||
        plan.head.location.find_first_of("\r\n") != std::string_view::npos)
        std::abort();
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
          "[[route]]\npath = \"/sleep\"\nfile = \"hello.html\"\ndelay = \"1s\"\n"
          "[[route]]\npath = \"/post\"\nfile = \"hello.html\"\nmethods = [\"POST\"]\n"
          "[[static]]\nprefix = \"/pub/\"\ndir = \"pub\"\n"
          "[errors]\n404 = \"404.html\"\n");
    fuzz_site = std::make_unique<site const>(load_config(dir / "site.toml"));
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    std::string_view const input{reinterpret_cast<char const*>(data), size};
    auto const& lim = fuzz_site->cfg.limits;
    auto const end = find_head_end(input);
    if (end == std::string_view::npos)
        return 0;
    if (!head_is_clean(input.substr(0, end))) {
        check(answer_refusal(*fuzz_site, 400));
        return 0;
    }
    if (auto const line = split_request_line(input.substr(0, end));
        line && judge_version(line->version) == version_verdict::unsupported)
    {
        check(answer_refusal(*fuzz_site, 505));
        return 0;
    }
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(lim.header_bytes));
    parser.eager(false);
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(input.data(), end), ec);
    if (ec || !parser.is_header_done())
        return 0;
    auto const& request = parser.get().base();
    auto const checked = check_request_head(request, lim);
    if (checked.refusal != 0) {
        check(answer_refusal(*fuzz_site, checked.refusal));
        return 0;
    }
    if (!parser.is_done()) {
        // The body, as the connection reads it: whatever follows the head.
        auto const length = parser.content_length();
        request_body body{length ? std::optional<std::uint64_t>{*length} : std::nullopt,
                          lim.header_bytes, lim.body_bytes};
        auto const rest = input.substr(end);
        auto const step = body.read(rest);
        if (step.consumed > rest.size())
            std::abort();
    }
    auto const normalized = normalize_target(request.target());
    if (normalized.result == normalized_target::outcome::ok &&
        (normalized.path.empty() || normalized.path.front() != '/' ||
         normalized.path.find("/../") != std::string::npos ||
         normalized.path.find("/./") != std::string::npos))
        std::abort(); // normalisation left a dot segment or lost the leading slash

    answer_terms const terms{parser.get().keep_alive(), request.version() == 10};
    auto plan = answer(*fuzz_site, request, terms);
    if (plan.delay.count() > 0)
        plan = answer_after_delay(*fuzz_site, request, terms);
    check(plan);
    return 0;
}
