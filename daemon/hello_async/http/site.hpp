#pragma once

#include "hello_async/http/config.hpp"
#include "hello_async/http/router.hpp"

#include <memory>

namespace hello_async {

/// One loaded configuration, immutable once built. A reload builds a new site; connections keep
/// the one they started a request with until that request is answered.
struct site
{
    explicit site(config c)
        : cfg{std::move(c)}
        , routes{cfg}
    {}

    config cfg;
    router routes;
};

} // namespace hello_async
