// libFuzzer target: any bytes as a config file. It is either accepted or refused with a
// config_error whose message names the file; nothing else may happen.
#include "hello_async/http/config.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    static auto const source =
        std::filesystem::temp_directory_path() / "hello-async-fuzz-config" / "fuzz.toml";
    std::string_view const text{reinterpret_cast<char const*>(data), size};
    try {
        auto const cfg = hello_async::parse_config(text, source);
        if (cfg.server.listen.empty())
            std::abort(); // an accepted config always has somewhere to listen
    } catch (hello_async::config_error const& e) {
        if (std::string_view{e.what()}.find(source.string()) != 0)
            std::abort(); // every refusal starts with the file's name
    }
    return 0;
}
