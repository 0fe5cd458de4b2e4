#include "hello_async/http/preconditions.hpp"

#include "hello_async/http/etag.hpp"
#include "hello_async/http/http_date.hpp"

namespace hello_async {

precondition evaluate_preconditions(conditions const& c,
                                    bool get_or_head,
                                    std::string_view etag,
                                    std::time_t last_modified)
{
    if (c.if_match) {
        if (!strong_match(*c.if_match, etag))
            return precondition::failed;
    } else if (c.if_unmodified_since) {
        if (auto const date = parse_http_date(*c.if_unmodified_since);
            date && last_modified > *date)
            return precondition::failed;
    }
    if (c.if_none_match) {
        if (weak_match(*c.if_none_match, etag))
            return get_or_head ? precondition::not_modified : precondition::failed;
    } else if (c.if_modified_since && get_or_head) {
        if (auto const date = parse_http_date(*c.if_modified_since); date && last_modified <= *date)
            return precondition::not_modified;
    }
    return precondition::proceed;
}

} // namespace hello_async
