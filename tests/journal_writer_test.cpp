#include "hello_async/journal_writer.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace hello_async {
namespace {

/// A datagram socket standing in for journald's, bound in a fresh directory.
class fake_journal
{
  public:
    fake_journal()
    {
        std::array<char, 64> pattern{};
        std::strncpy(pattern.data(), "/tmp/journal-writer-test.XXXXXX", pattern.size() - 1);
        dir_ = ::mkdtemp(pattern.data());
        path_ = dir_ + "/socket";
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr const*>(&address), sizeof address), 0);
    }
    fake_journal(fake_journal const&) = delete;
    fake_journal& operator=(fake_journal const&) = delete;
    ~fake_journal()
    {
        ::close(fd_);
        std::filesystem::remove_all(dir_);
    }

    [[nodiscard]] std::string const& path() const { return path_; }

    /// The next datagram, or nothing when none is waiting.
    std::string receive()
    {
        std::array<char, 4096> buffer{};
        auto const n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
        return n > 0 ? std::string{buffer.data(), static_cast<std::size_t>(n)} : std::string{};
    }

  private:
    std::string dir_;
    std::string path_;
    int fd_{-1};
};

TEST(journal_entry, plain_and_binary_fields)
{
    std::string out;
    append_journal_entry(out, {{"MESSAGE", "GET / HTTP/1.1 200"}, {"NOTE", "two\nlines"}});
    std::string const binary_length{"\x09\0\0\0\0\0\0\0", 8};
    EXPECT_EQ(out, "MESSAGE=GET / HTTP/1.1 200\nNOTE\n" + binary_length + "two\nlines\n");
}

TEST(journal_writer, batches_reach_the_socket_in_order)
{
    fake_journal journal;
    boost::asio::io_context ioc;
    std::atomic<std::size_t> dropped{0};
    journal_writer writer{ioc, journal.path(), dropped};
    for (int i = 0; i < 5; ++i)
        writer.submit("MESSAGE=entry " + std::to_string(i) + "\n");
    EXPECT_EQ(journal.receive(), ""); // nothing leaves before the loop runs
    ioc.run();
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(journal.receive(), "MESSAGE=entry " + std::to_string(i) + "\n");
    EXPECT_EQ(dropped, 0U);
}

TEST(journal_writer, a_full_socket_queues_then_drops_the_oldest)
{
    fake_journal journal;
    boost::asio::io_context ioc;
    std::atomic<std::size_t> dropped{0};
    journal_writer writer{ioc, journal.path(), dropped};
    // Nobody reads: the socket fills after a few datagrams (net.unix.max_dgram_qlen), the rest
    // waits in the writer's queue, and past its bound the oldest are dropped.
    std::size_t const total = journal_writer::backlog_max + 2000;
    for (std::size_t i = 0; i < total; ++i)
        writer.submit("MESSAGE=entry " + std::to_string(i) + "\n");
    ioc.poll();
    EXPECT_GE(dropped.load(), 2000U - 600U);
    EXPECT_LE(dropped.load(), 2000U);
    // Reading makes room: the waiting entries flow, newest last, and none is lost any more.
    auto const dropped_before = dropped.load();
    std::string last;
    for (int round = 0; round < 100000; ++round) {
        auto const datagram = journal.receive();
        if (datagram.empty()) {
            if (ioc.poll() == 0 && journal.receive().empty())
                break;
            continue;
        }
        last = datagram;
    }
    EXPECT_EQ(last, "MESSAGE=entry " + std::to_string(total - 1) + "\n");
    EXPECT_EQ(dropped.load(), dropped_before);
}

TEST(journal_writer, no_journal_counts_every_entry_as_dropped)
{
    boost::asio::io_context ioc;
    std::atomic<std::size_t> dropped{0};
    journal_writer writer{ioc, "/nonexistent/journal/socket", dropped};
    writer.submit("MESSAGE=lost\n");
    writer.submit("MESSAGE=lost too\n");
    ioc.run();
    EXPECT_EQ(dropped, 2U);
}

} // namespace
} // namespace hello_async
