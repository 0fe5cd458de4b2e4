// Boost.JSON, header-only, compiled once for the tests that read journalctl's JSON output.
#include <boost/json/src.hpp>
