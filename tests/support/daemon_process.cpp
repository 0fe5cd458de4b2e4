#include "support/daemon_process.hpp"

#include "hello_async/http/unique_fd.hpp"

#include <arpa/inet.h>
#include <array>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <random>
#include <regex>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hello_async::testing {

namespace fs = std::filesystem;

temp_dir::temp_dir()
{
    std::string templ = (fs::temp_directory_path() / "hello-async-test.XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr)
        throw std::runtime_error{"mkdtemp failed"};
    path_ = templ;
}

temp_dir::~temp_dir()
{
    std::error_code ignored;
    fs::remove_all(path_, ignored);
}

fs::path temp_dir::write(std::string const& name, std::string const& text) const
{
    auto const target = path_ / name;
    fs::create_directories(target.parent_path());
    std::ofstream out{target, std::ios::binary};
    out << text;
    return target;
}

fs::path source_www()
{
    return fs::path{HELLO_ASYNC_SOURCE_DIR} / "www";
}

std::string read_file(fs::path const& path)
{
    std::ifstream in{path, std::ios::binary};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

unsigned short free_port(bool ipv6)
{
    int const fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage storage{};
    socklen_t length = 0;
    if (ipv6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        length = sizeof *in6;
    } else {
        auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
        in4->sin_family = AF_INET;
        in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof *in4;
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0)
    {
        ::close(fd);
        throw std::runtime_error{"cannot find a free port"};
    }
    ::close(fd);
    return ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                      : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
}

std::string test_config(test_site const& site)
{
    return "[server]\n"
           "listen = [\"127.0.0.1:" +
           std::to_string(site.port) +
           "\"]\n"
           "root = \"" +
           source_www().string() +
           "\"\n"
           "threads = " +
           std::to_string(site.threads) +
           "\n"
           "log_target = \"stderr\"\n" +
           site.server + "\n[limits]\n" + site.limits +
           "\n"
           "[[route]]\npath = \"/\"\nfile = \"hello.html\"\n\n"
           "[[route]]\npath = \"/sleep\"\nfile = \"hello.html\"\ndelay = \"" +
           site.sleep_delay +
           "\"\n\n"
           "[errors]\n404 = \"404.html\"\n\n" +
           site.extra;
}

std::string test_config(std::string const& extra, std::string const& limits)
{
    return test_config(test_site{.extra = extra, .limits = limits});
}

std::string hello_page()
{
    return read_file(source_www() / "hello.html");
}

std::string not_found_page()
{
    return read_file(source_www() / "404.html");
}

daemon_process::daemon_process(launch const& how)
{
    std::array<int, 2> out{};
    if (::pipe2(out.data(), O_CLOEXEC) != 0)
        throw std::runtime_error{"pipe2 failed"};

    std::vector<std::string> env_strings{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    // Sanitizer settings of the test run apply to the daemon too.
    for (auto const* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"}) {
        if (auto const* value = std::getenv(name))
            env_strings.push_back(std::string{name} + "=" + value);
    }
    for (auto const& [k, v] : how.env)
        env_strings.push_back(k + "=" + v);
    std::vector<std::string> args = how.wrapper;
    args.emplace_back(HELLO_ASYNC_BINARY);
    args.insert(args.end(), how.args.begin(), how.args.end());

    pid_t const test_process = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0)
        throw std::runtime_error{"fork failed"};
    if (pid_ == 0) {
        // A test killed by ctest's timeout must not leave its daemon running: it would hold its
        // port and its journal, and skew every run after it.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != test_process)
            ::_exit(127);
        ::dup2(out[1], 1);
        ::dup2(out[1], 2);
        for (auto const& [child_fd, parent_fd] : how.fds) {
            if (child_fd == parent_fd)
                ::fcntl(child_fd, F_SETFD, 0);
            else
                ::dup2(parent_fd, child_fd);
        }
        if (how.set_listen_pid)
            env_strings.push_back("LISTEN_PID=" + std::to_string(::getpid()));
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        std::vector<char*> envp;
        for (auto& e : env_strings)
            envp.push_back(e.data());
        envp.push_back(nullptr);
        if (how.wrapper.empty())
            ::execve(argv[0], argv.data(), envp.data());
        else
            ::execvpe(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(out[1]);
    reader_ = std::thread{[this, fd = out[0]] { collect(fd); }};
}

daemon_process::daemon_process(std::vector<std::string> args)
    : daemon_process{launch{std::move(args), {}, {}, false, {}}}
{}

daemon_process::~daemon_process()
{
    if (!status_) {
        signal(SIGKILL);
        static_cast<void>(wait_exit(std::chrono::seconds{5}));
    }
    if (reader_.joinable())
        reader_.join();
}

void daemon_process::collect(int fd)
{
    std::array<char, 4096> buf{};
    for (;;) {
        auto const n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        std::lock_guard const lock{mutex_};
        output_.append(buf.data(), static_cast<std::size_t>(n));
        changed_.notify_all();
    }
    ::close(fd);
    std::lock_guard const lock{mutex_};
    closed_ = true;
    changed_.notify_all();
}

bool daemon_process::wait_for_output(std::string const& text, std::chrono::milliseconds timeout)
{
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, timeout, [&] {
        return output_.find(text) != std::string::npos || closed_;
    }) && output_.find(text) != std::string::npos;
}

unsigned short daemon_process::wait_for_port()
{
    if (!wait_for_output(" I/O threads"))
        throw std::runtime_error{"daemon did not start listening:\n" + output()};
    std::smatch match;
    auto const text = output();
    static std::regex const listening{R"(listening on \[?[0-9a-fA-F:.]+\]?:([0-9]+))"};
    if (!std::regex_search(text, match, listening))
        throw std::runtime_error{"no port in output:\n" + text};
    return static_cast<unsigned short>(std::stoi(match[1].str()));
}

void daemon_process::signal(int sig) const
{
    if (pid_ > 0)
        ::kill(pid_, sig);
}

std::optional<int> daemon_process::wait_exit(std::chrono::milliseconds timeout)
{
    if (status_)
        return status_;
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int raw = 0;
        auto const rc = ::waitpid(pid_, &raw, WNOHANG);
        if (rc == pid_) {
            status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
            // Whatever it wrote last is still in the pipe: wait for the reader to reach EOF.
            std::unique_lock lock{mutex_};
            changed_.wait_for(lock, std::chrono::seconds{5}, [&] { return closed_; });
            return status_;
        }
        if (std::chrono::steady_clock::now() >= deadline)
            return std::nullopt;
        // waitpid has no timeout; the reader thread's EOF tells us when stdout closed.
        std::unique_lock lock{mutex_};
        changed_.wait_for(lock, std::chrono::milliseconds{20}, [&] { return closed_; });
    }
}

std::string daemon_process::output()
{
    std::lock_guard const lock{mutex_};
    return output_;
}

run_result run_daemon(std::vector<std::string> const& args)
{
    daemon_process proc{args};
    auto const status = proc.wait_exit(std::chrono::seconds{15});
    return {status.value_or(-1), proc.output()};
}

std::optional<bool> server_side_no_delay(pid_t pid, unsigned short client_port)
{
    unique_fd const process{static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))};
    if (!process)
        throw std::runtime_error{std::string{"pidfd_open: "} + std::strerror(errno)};
    for (auto const& entry : fs::directory_iterator{"/proc/" + std::to_string(pid) + "/fd"}) {
        std::error_code ec;
        if (!fs::read_symlink(entry.path(), ec).string().starts_with("socket:"))
            continue;
        int const target = std::stoi(entry.path().filename().string());
        unique_fd const copy{
            static_cast<int>(::syscall(SYS_pidfd_getfd, process.get(), target, 0))};
        if (!copy)
            throw std::runtime_error{std::string{"pidfd_getfd: "} + std::strerror(errno)};
        sockaddr_storage peer{};
        socklen_t length = sizeof peer;
        if (::getpeername(copy.get(), reinterpret_cast<sockaddr*>(&peer), &length) != 0)
            continue; // a listener, or not connected
        unsigned short peer_port = 0;
        if (peer.ss_family == AF_INET)
            peer_port = ntohs(reinterpret_cast<sockaddr_in const*>(&peer)->sin_port);
        else if (peer.ss_family == AF_INET6)
            peer_port = ntohs(reinterpret_cast<sockaddr_in6 const*>(&peer)->sin6_port);
        if (peer_port != client_port)
            continue;
        int value = 0;
        socklen_t size = sizeof value;
        if (::getsockopt(copy.get(), IPPROTO_TCP, TCP_NODELAY, &value, &size) != 0)
            throw std::runtime_error{std::string{"getsockopt: "} + std::strerror(errno)};
        return value != 0;
    }
    return std::nullopt;
}

} // namespace hello_async::testing
