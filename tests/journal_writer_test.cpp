#include "hello_async/server/journal_writer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

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
        std::array<char, 2 * journal_writer::datagram_bytes> buffer{};
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

/// The entries of one datagram: each ends with an empty line (test entries have no binary field).
std::vector<std::string> entries_of(std::string const& datagram)
{
    std::vector<std::string> entries;
    std::size_t begin = 0;
    while (begin < datagram.size()) {
        auto const end = datagram.find("\n\n", begin);
        if (end == std::string::npos) {
            ADD_FAILURE() << "an entry without its empty line: " << datagram.substr(begin);
            break;
        }
        entries.push_back(datagram.substr(begin, end + 1 - begin));
        begin = end + 2;
    }
    return entries;
}

/// Runs what is ready now; an io_context that ran out of work stays stopped until restarted.
std::size_t poll_now(boost::asio::io_context& ioc)
{
    ioc.restart();
    return ioc.poll();
}

std::string numbered_entry(std::size_t number, std::size_t padding = 0)
{
    return "MESSAGE=entry " + std::to_string(number) + "\nPAD=" + std::string(padding, 'x') + "\n";
}

/// The number in an entry made by numbered_entry.
std::size_t number_of(std::string const& entry)
{
    return std::stoul(entry.substr(std::string_view{"MESSAGE=entry "}.size()));
}

/// A writer connected to a fake journal, on an io_context the test runs by hand.
class writer_to_fake_journal : public ::testing::Test
{
  protected:
    fake_journal journal;
    boost::asio::io_context ioc;
    std::atomic<std::size_t> dropped{0};
    journal_writer writer{ioc, journal.path(), dropped};
};

TEST_F(writer_to_fake_journal,
       a_batch_travels_as_one_datagram_of_entries_each_ended_by_an_empty_line)
{
    for (int i = 0; i < 3; ++i)
        writer.submit("MESSAGE=entry " + std::to_string(i) + "\n");
    EXPECT_EQ(journal.receive(), ""); // nothing leaves before the loop runs
    ioc.run();
    EXPECT_EQ(journal.receive(), "MESSAGE=entry 0\n\nMESSAGE=entry 1\n\nMESSAGE=entry 2\n\n");
    EXPECT_EQ(journal.receive(), "");
    EXPECT_EQ(dropped, 0U);
}

TEST_F(writer_to_fake_journal, large_batches_are_split_into_datagrams_in_order)
{
    constexpr std::size_t total = 1000; // about 100 KiB: several datagrams
    std::size_t received = 0;
    std::size_t datagrams = 0;
    auto drain = [&] {
        for (auto datagram = journal.receive(); !datagram.empty(); datagram = journal.receive()) {
            ++datagrams;
            EXPECT_LE(datagram.size(), journal_writer::datagram_bytes);
            for (auto const& entry : entries_of(datagram))
                EXPECT_EQ(number_of(entry), received++);
        }
    };
    for (std::size_t i = 0; i < total; ++i) {
        writer.submit(numbered_entry(i, 80));
        poll_now(ioc);
        drain();
    }
    ioc.restart();
    ioc.run();
    drain();
    EXPECT_EQ(received, total);
    EXPECT_GE(datagrams, 4U);
    EXPECT_EQ(dropped, 0U);
}

TEST_F(writer_to_fake_journal, a_full_socket_queues_then_drops_the_oldest)
{
    // Nobody reads: the socket fills after its send buffer's worth, at most a few MiB, the rest
    // waits in the writer's queue, and past its bound the oldest are dropped.
    constexpr std::size_t padding = 1000;
    std::size_t const total = journal_writer::backlog_max + 30000;
    for (std::size_t i = 0; i < total; ++i) {
        writer.submit(numbered_entry(i, padding));
        poll_now(ioc);
    }
    EXPECT_GT(dropped.load(), 0U);
    // Dropped entries hand their memory back: the queue never holds much more than its bound.
    EXPECT_LE(writer.buffered_bytes(), 4 * journal_writer::backlog_max * (padding + 32));
    // Reading makes room: the waiting entries flow, and none is lost any more.
    auto const dropped_before = dropped.load();
    std::vector<std::size_t> received;
    for (int round = 0; round < 100000; ++round) {
        auto const datagram = journal.receive();
        if (datagram.empty()) {
            if (poll_now(ioc) == 0 && journal.receive().empty())
                break;
            continue;
        }
        for (auto const& entry : entries_of(datagram))
            received.push_back(number_of(entry));
    }
    EXPECT_EQ(dropped.load(), dropped_before);
    EXPECT_EQ(received.size() + dropped.load(), total) << "every entry arrives or is counted";
    // What arrives: the first entries, sent before the socket filled, then exactly the newest
    // backlog_max, which waited in the queue while older ones made way.
    ASSERT_GE(received.size(), journal_writer::backlog_max);
    std::size_t const newest_from = received.size() - journal_writer::backlog_max;
    for (std::size_t i = 0; i < newest_from; ++i)
        EXPECT_EQ(received[i], i);
    for (std::size_t i = 0; i < journal_writer::backlog_max; ++i)
        ASSERT_EQ(received[newest_from + i], total - journal_writer::backlog_max + i);
}

TEST_F(writer_to_fake_journal, keep_all_grows_past_the_bound_and_waiters_resume_once_read)
{
    // Nobody reads: fill the socket, then the queue to its bound, keeping every entry.
    std::size_t submitted = 0;
    while (writer.has_room()) {
        writer.submit(numbered_entry(submitted++, 1000), true);
        poll_now(ioc);
    }
    writer.submit(numbered_entry(submitted++, 1000), true); // past the bound: kept, not dropped
    EXPECT_EQ(dropped.load(), 0U);
    bool resumed = false;
    boost::asio::co_spawn(
        ioc,
        [&]() -> boost::asio::awaitable<void> {
            co_await writer.wait_for_room();
            resumed = true;
        },
        boost::asio::detached);
    poll_now(ioc);
    EXPECT_FALSE(resumed) << "wait_for_room returned with the queue full";
    std::size_t received = 0;
    for (int round = 0; round < 100000 && received < submitted; ++round) {
        auto const datagram = journal.receive();
        received += entries_of(datagram).size();
        poll_now(ioc);
    }
    EXPECT_TRUE(resumed);
    EXPECT_EQ(received, submitted) << "every kept entry arrives";
    EXPECT_EQ(dropped.load(), 0U);
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
