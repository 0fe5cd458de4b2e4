// libFuzzer target: bytes from an HTTP/2 client (after its connection preface) -> nghttp2's
// framing, HPACK and stream states -> the request heads h2_session builds -> answer() over a
// small site on disk -> responses through the flow-control windows, bodies read from the files,
// as a connection runs them, with no socket.
#include "hello_async/http/answer.hpp"
#include "hello_async/http/config.hpp"
#include "hello_async/http/h2_session.hpp"
#include "hello_async/http/site.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace hello_async;

std::shared_ptr<site const> fuzz_site;

void write(fs::path const& path, std::string_view text)
{
    fs::create_directories(path.parent_path());
    std::ofstream{path} << text;
}

/// Answers every request at once, a route's delay skipped.
class answer_all final : public h2_handler
{
  public:
    h2_session* session{nullptr};

    void on_request(h2_stream& stream) override
    {
        if (stream.refusal != 0) {
            session->respond(stream, fuzz_site, answer_refusal(*fuzz_site, stream.refusal));
            return;
        }
        auto plan = answer(*fuzz_site, stream.head, {});
        if (plan.delay.count() > 0)
            plan = answer_after_delay(*fuzz_site, stream.head, {});
        session->respond(stream, fuzz_site, std::move(plan));
    }

    void on_close(h2_stream& stream, std::uint32_t /*error_code*/) override
    {
        if (stream.body_sent > stream.body_total)
            std::abort(); // more body than the head promised
    }
};

} // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/)
{
    auto const dir =
        fs::temp_directory_path() / ("hello-async-h2-fuzz-" + std::to_string(::getpid()));
    write(dir / "hello.html", "<h1>hi</h1>");
    write(dir / "404.html", "missing");
    write(dir / "pub/index.html", "index");
    write(dir / "pub/a.css", "css");
    write(dir / "pub/a.css.gz", "gz");
    write(dir / "pub/big.bin", std::string(std::size_t{200} * 1024, 'b'));
    write(dir / "site.toml",
          "[[route]]\npath = \"/\"\nfile = \"hello.html\"\n"
          "[[route]]\npath = \"/sleep\"\nfile = \"hello.html\"\ndelay = \"1s\"\n"
          "[[route]]\npath = \"/post\"\nfile = \"hello.html\"\nmethods = [\"POST\"]\n"
          "[[static]]\nprefix = \"/pub/\"\ndir = \"pub\"\n"
          "[limits]\nheader_fields = 20\nheader_bytes = 2048\nbody_bytes = 100\n"
          "[errors]\n404 = \"404.html\"\n");
    fuzz_site = std::make_shared<site const>(load_config(dir / "site.toml"));
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    answer_all handler;
    h2_session session{handler, fuzz_site->cfg.http2, fuzz_site->cfg.limits};
    handler.session = &session;
    std::string out;
    if (!session.pull(out, 1 << 20))
        std::abort(); // the server's own SETTINGS cannot fail
    std::string input{h2_client_preface()};
    input.append(reinterpret_cast<char const*>(data), size);
    // In pieces, as reads deliver it: frames split at every boundary the input chooses.
    std::string_view rest{input};
    bool more = true;
    while (more && !rest.empty()) {
        auto const piece = std::min<std::size_t>(rest.size(), 1 + rest.size() % 977);
        more = session.receive(rest.substr(0, piece));
        rest.remove_prefix(piece);
        out.clear();
        if (!session.pull(out, std::size_t{1} << 20))
            break;
    }
    return 0;
}
