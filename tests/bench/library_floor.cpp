// The memory floor of the daemon's libraries: a program that links what the daemon links
// (libsystemd, libstdc++, spdlog, fmt, toml++, OpenSSL, nghttp2), has them loaded, and only
// pauses. The benchmark reads its Pss beside an idle daemon's.
// usage: library_floor (any argument makes it use each library once, and exit)
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <toml++/toml.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <unistd.h>

int main(int argc, char** /*argv*/)
{
    // Never taken in the benchmark: the calls only make the linker keep every library.
    if (argc > 1) {
        auto const parsed = toml::parse("a = 1");
        spdlog::info("{} {} {} {}", sd_booted(), nghttp2_version(0)->version_num,
                     static_cast<void const*>(TLS_server_method()), parsed["a"].value_or(0));
        return 0;
    }
    for (;;)
        ::pause();
}
