#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace hello_async::testing {

/// A temporary directory removed with everything in it.
class temp_dir
{
  public:
    temp_dir();
    temp_dir(temp_dir const&) = delete;
    temp_dir& operator=(temp_dir const&) = delete;
    ~temp_dir();
    [[nodiscard]] std::filesystem::path const& path() const { return path_; }
    /// Writes `text` to `name` below the directory; returns the full path.
    std::filesystem::path write(std::string const& name, std::string const& text) const;

  private:
    std::filesystem::path path_;
};

/// The repository's www/ directory.
[[nodiscard]] std::filesystem::path source_www();
/// The contents of a file.
[[nodiscard]] std::string read_file(std::filesystem::path const& path);

/// Options for starting the daemon.
struct launch
{
    std::vector<std::string> args;
    std::map<std::string, std::string> env; ///< added to a minimal environment
    /// Extra file descriptors to pass: child fd number -> parent fd (dup2'd before exec).
    std::map<int, int> fds;
    /// When set, LISTEN_PID is set to the child's own pid (socket activation by hand).
    bool set_listen_pid{false};
    /// A program (with its arguments) that runs the daemon, e.g. systemd-socket-activate.
    std::vector<std::string> wrapper;
};

/// Whether the daemon's end of the TCP connection whose client side has local port
/// `client_port` has TCP_NODELAY set. Read from a copy of the daemon's own descriptor
/// (pidfd_getfd); nullopt when no such socket is found. Needs the right to trace `pid`.
[[nodiscard]] std::optional<bool> server_side_no_delay(pid_t pid, unsigned short client_port);

/// The built daemon as a child process; its stderr is collected for assertions.
class daemon_process
{
  public:
    explicit daemon_process(launch const& how);
    /// Starts the daemon with these arguments and nothing else special.
    explicit daemon_process(std::vector<std::string> args);
    daemon_process(daemon_process const&) = delete;
    daemon_process& operator=(daemon_process const&) = delete;
    ~daemon_process();

    /// Waits until stderr contains `text`; false on timeout or exit.
    bool wait_for_output(std::string const& text,
                         std::chrono::milliseconds timeout = std::chrono::seconds{10});
    /// Waits for "listening on ... :PORT" and returns the first port.
    [[nodiscard]] unsigned short wait_for_port();
    /// Sends a signal.
    void signal(int sig) const;
    /// Waits for exit; nullopt on timeout. Returns the exit status (128+N for a signal).
    std::optional<int> wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds{15});
    [[nodiscard]] std::string output();
    [[nodiscard]] pid_t pid() const { return pid_; }

  private:
    void collect(int fd);

    pid_t pid_{-1};
    std::optional<int> status_;
    std::thread reader_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::string output_;
    bool closed_{false};
};

/// Runs the daemon to completion with `args`; returns exit status and combined output.
struct run_result
{
    int status{-1};
    std::string output;
};
[[nodiscard]] run_result run_daemon(std::vector<std::string> const& args);

/// A loopback TCP port nobody listens on right now.
[[nodiscard]] unsigned short free_port(bool ipv6 = false);

/// What a test's config holds besides the default routes.
struct test_site
{
    std::string extra{};           ///< appended: routes, static dirs, tables
    std::string limits{};          ///< lines for the [limits] table
    std::string sleep_delay{"5s"}; ///< the /sleep route's delay: shorter where 5 s is not the point
    unsigned short port{0};        ///< the listen port on 127.0.0.1; 0: any free one
    std::string server{};          ///< more lines for the [server] table
    unsigned threads{2};           ///< I/O threads
};

/// A config for tests: listens on 127.0.0.1, pages from the repository's www/.
[[nodiscard]] std::string test_config(test_site const& site);
[[nodiscard]] std::string test_config(std::string const& extra = {},
                                      std::string const& limits = {});

/// The repository's www/hello.html and www/404.html, as the default routes answer them.
[[nodiscard]] std::string hello_page();
[[nodiscard]] std::string not_found_page();

} // namespace hello_async::testing
