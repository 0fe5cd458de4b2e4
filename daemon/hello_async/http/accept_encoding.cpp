#include "hello_async/http/accept_encoding.hpp"

#include "hello_async/http/field_text.hpp"

#include <algorithm>
#include <optional>

namespace hello_async {

accepted_codings parse_accept_encoding(std::optional<std::string_view> field)
{
    accepted_codings out;
    if (!field)
        return out;
    std::optional<bool> br;
    std::optional<bool> gzip;
    bool star = false;
    for_each_element(*field, [&](std::string_view element) {
        auto const semi = element.find(';');
        auto const coding = trim_ows(element.substr(0, semi));
        bool accepted = true;
        if (semi != std::string_view::npos) {
            auto params = trim_ows(element.substr(semi + 1));
            if (params.size() >= 2 && (params[0] == 'q' || params[0] == 'Q') && params[1] == '=') {
                auto const q = trim_ows(params.substr(2));
                // q=0, q=0.0, q=0.000 refuse; any other digit makes it acceptable.
                accepted =
                    std::any_of(q.begin(), q.end(), [](char c) { return c >= '1' && c <= '9'; });
            }
        }
        if (iequals_ascii(coding, "br")) {
            br = accepted;
        } else if (iequals_ascii(coding, "gzip") || iequals_ascii(coding, "x-gzip")) {
            gzip = accepted;
        } else if (coding == "*") {
            star = accepted;
        }
    });
    out.br = br.value_or(star);
    out.gzip = gzip.value_or(star);
    return out;
}

} // namespace hello_async
