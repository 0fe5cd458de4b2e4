#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace hello_async::testing {

/// A NOTIFY_SOCKET stand-in: a unix datagram socket collecting sd_notify messages.
class notify_socket
{
  public:
    explicit notify_socket(std::filesystem::path path);
    notify_socket(notify_socket const&) = delete;
    notify_socket& operator=(notify_socket const&) = delete;
    ~notify_socket();

    [[nodiscard]] std::string const& path() const { return path_; }
    /// Waits for a message containing `text` that comes after the one the previous wait_for
    /// returned; returns it, or empty on timeout. Every message read is kept in messages().
    std::string wait_for(std::string const& text,
                         std::chrono::milliseconds timeout = std::chrono::seconds{10});
    /// Reads whatever has arrived, without waiting.
    void drain();
    [[nodiscard]] std::vector<std::string> const& messages() const { return messages_; }
    /// Index of the first message at or after `from` containing `text`, or -1.
    [[nodiscard]] int index_of(std::string const& text, std::size_t from = 0) const;

  private:
    bool receive(std::chrono::milliseconds timeout);

    std::string path_;
    int fd_{-1};
    std::vector<std::string> messages_;
    std::size_t next_{0}; ///< where the next wait_for starts looking
};

} // namespace hello_async::testing
