#include "hello_async/http/request_head.hpp"

#include "hello_async/http/field_text.hpp"

#include <algorithm>
#include <iterator>

namespace hello_async {
namespace {

namespace http = boost::beast::http;

} // namespace

std::size_t find_head_end(std::string_view data)
{
    for (auto lf = data.find('\n'); lf != std::string_view::npos; lf = data.find('\n', lf + 1)) {
        if (lf + 1 < data.size() && data[lf + 1] == '\n')
            return lf + 2;
        if (lf + 2 < data.size() && data[lf + 1] == '\r' && data[lf + 2] == '\n')
            return lf + 3;
    }
    return std::string_view::npos;
}

bool head_is_clean(std::string_view head)
{
    for (std::size_t i = 0; i < head.size(); ++i) {
        auto const c = static_cast<unsigned char>(head[i]);
        if (c >= 0x20 && c != 0x7f) [[likely]]
            continue; // almost every byte: test it first
        if (c == '\r') {
            if (i + 1 >= head.size() || head[i + 1] != '\n')
                return false; // bare CR
            continue;
        }
        if (c == '\n') {
            if (i == 0 || head[i - 1] != '\r')
                return false; // bare LF
            // A field line that starts with whitespace continues the previous one (obs-fold).
            if (i + 1 < head.size() && (head[i + 1] == ' ' || head[i + 1] == '\t'))
                return false;
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false; // NUL and other control bytes
    }
    return true;
}

std::optional<unsigned> framing_problem_of(http::request_header<> const& req, limits const& lim)
{
    if (req.target().size() > lim.uri_bytes)
        return 414;
    if (static_cast<std::size_t>(std::distance(req.begin(), req.end())) > lim.header_fields)
        return 431;
    auto const hosts = req.count(http::field::host);
    if (hosts > 1 || (req.version() == 11 && hosts == 0))
        return 400;
    auto const lengths = req.count(http::field::content_length);
    auto const codings = req.count(http::field::transfer_encoding);
    if (lengths > 1)
        return 400; // even with equal values: two framings are one too many
    if (codings > 0) {
        if (lengths > 0 || req.version() < 11)
            return 400;
        // Only the last field's last coding decides; every list element must be a token.
        std::string_view final_coding;
        auto const [first, last] = req.equal_range(http::field::transfer_encoding);
        for (auto it = first; it != last; ++it) {
            std::string_view const value = it->value();
            auto const comma = value.rfind(',');
            final_coding =
                trim_ows(comma == std::string_view::npos ? value : value.substr(comma + 1));
        }
        if (!iequals_ascii(final_coding, "chunked"))
            return 400;
    }
    return std::nullopt;
}

} // namespace hello_async
