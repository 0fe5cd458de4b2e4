#pragma once

#include "hello_async/http/answer.hpp"
#include "hello_async/http/config.hpp"
#include "hello_async/http/request_head.hpp"
#include "hello_async/http/site.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

struct nghttp2_session;

namespace hello_async {

/// Frames nghttp2 answers without limit: a peer that sends more of one kind than this within one
/// second is told ENHANCE_YOUR_CALM and cut off. Clients send a handful of each per connection;
/// a flood sends thousands, each costing the server a reply or a lookup.
struct h2_frame_limits
{
    static constexpr unsigned settings_per_second = 100;   ///< SETTINGS without ACK
    static constexpr unsigned pings_per_second = 100;      ///< PING without ACK
    static constexpr unsigned empty_data_per_second = 100; ///< DATA of length 0 without END_STREAM
    static constexpr unsigned priority_per_second = 1000;  ///< PRIORITY (ignored anyway)
    /// RST_STREAM from the client: rapid reset (CVE-2023-44487) opens and cancels streams in a
    /// loop, each costing an answer; browsers cancel a few when a page is left.
    static constexpr unsigned resets_per_second = 200;
    /// Header blocks refused with 431 on one connection, after which a client that keeps
    /// sending them (an HPACK bomb: a small block that decodes huge) is cut off.
    static constexpr unsigned oversized_header_blocks = 4;
    /// nghttp2's own token bucket for RST_STREAM, behind ours: this many at once, then this
    /// many per second.
    static constexpr std::uint64_t library_resets_burst = 1000;
    static constexpr std::uint64_t library_resets_per_second = 33;
    /// CONTINUATION frames after one HEADERS (CVE-2024-27316 family): ours answers with
    /// GOAWAY; nghttp2's, behind it, only fails the session.
    static constexpr unsigned continuations = 8;
    static constexpr std::size_t library_continuations = 16;
};

/// A stretch of a response's file read ahead of the DATA frames that carry it: one read per
/// 64 KiB rather than one per frame.
struct file_read_ahead
{
    // A buffer read into, never initialised first.
    std::unique_ptr<char[]> bytes; // NOLINT(*-avoid-c-arrays)
    std::size_t size{0};
    std::uint64_t start{0}; ///< the file offset of bytes[0]
};

/// One request stream, from its HEADERS to its close.
struct h2_stream
{
    enum class phase
    {
        headers,    ///< its header block is arriving
        body,       ///< its body is arriving
        answering,  ///< handed to the handler, no response yet (a route's delay)
        responding, ///< response submitted; its body goes out as the windows allow
    };

    std::int32_t id{0};
    phase state{phase::headers};
    request_head head;
    std::string method;          ///< :method
    std::string path;            ///< :path
    std::string authority_field; ///< :authority
    authority host{};            ///< the request's validated authority (for redirects)
    unsigned refusal{0};         ///< non-zero: answered with this status instead
    std::size_t header_bytes{0};
    std::size_t header_fields{0};
    std::uint64_t body_bytes{0};
    bool expects_continue{false};
    std::chrono::steady_clock::time_point started{};
    std::chrono::steady_clock::time_point last_progress{}; ///< the last byte in or out

    // The response, once submitted.
    std::shared_ptr<site const> answered_by; ///< keeps the plan's views valid
    response_plan plan;
    unsigned status{0};
    std::uint64_t body_total{0};
    std::uint64_t body_sent{0};
    file_read_ahead ahead; ///< empty unless the body comes from an open file
};

/// What a connection does with the streams of an h2_session.
class h2_handler
{
  public:
    /// A request has arrived whole (or was refused: stream.refusal): answer it with
    /// h2_session::respond(), now or later.
    virtual void on_request(h2_stream& stream) = 0;
    /// The stream closes and is freed when this returns; `error_code` 0 is NO_ERROR.
    virtual void on_close(h2_stream& stream, std::uint32_t error_code) = 0;

    virtual ~h2_handler() = default;

  protected:
    h2_handler() = default;
    h2_handler(h2_handler const&) = default;
    h2_handler& operator=(h2_handler const&) = default;
    h2_handler(h2_handler&&) = default;
    h2_handler& operator=(h2_handler&&) = default;
};

/// The HTTP/2 side of one server connection (RFC 9113) on nghttp2, without any I/O: bytes from
/// the client go in through receive(), frames to send come out of pull(). nghttp2 does the
/// framing, HPACK, flow control and the stream state machine, and checks the message rules of
/// §8 (pseudo-headers, connection-specific fields, TE); this class turns header blocks into
/// request heads, enforces the [limits] on each stream, counts the floods nghttp2 does not, and
/// feeds response bodies through the flow-control windows from memory or from the file.
class h2_session
{
  public:
    h2_session(h2_handler& handler, http2_config const& h2, limits const& lim);
    ~h2_session();
    h2_session(h2_session const&) = delete;
    h2_session& operator=(h2_session const&) = delete;
    h2_session(h2_session&&) = delete;
    h2_session& operator=(h2_session&&) = delete;

    /// Feeds what the client sent. False when the connection must end: what is queued (GOAWAY,
    /// where one is due) should still be sent first.
    bool receive(std::string_view bytes);

    /// Appends frames to send to `out` until it holds at least `enough` bytes or nothing more is
    /// ready. False on a fatal error.
    bool pull(std::string& out, std::size_t enough);

    /// Submits the response to a stream in phase headers, body or answering.
    void respond(h2_stream& stream, std::shared_ptr<site const> site, response_plan plan);

    /// Stops taking new streams in the two steps of RFC 9113 §6.8: a GOAWAY with the largest
    /// stream ID and a PING now; once the PING's ACK is back, the GOAWAY with the last stream
    /// processed. A stream the client opened before it read the first GOAWAY is thus answered,
    /// not refused. Open streams go on.
    void shut_down();

    /// Whether the client has begun a stream. One that has not, on a connection just opened, is
    /// about to send its first request: a GOAWAY before it makes some clients (curl 7.88) fail
    /// that request rather than retry it elsewhere.
    [[nodiscard]] bool has_begun_a_stream() const { return highest_stream_ > 0; }

    /// Ends the session at once: GOAWAY NO_ERROR with the last stream ID and `why` as its
    /// debug data (a timeout's name), for the caller to send before it closes.
    void give_up(std::string_view why);

    [[nodiscard]] h2_stream* find(std::int32_t id);
    [[nodiscard]] auto const& streams() const { return streams_; }

    /// Whether frames are waiting to be pulled.
    [[nodiscard]] bool wants_write() const;
    /// Neither side has anything more to say: the connection may close.
    [[nodiscard]] bool finished() const;
    /// A flood or a protocol error ended the session: send what is queued, then close.
    [[nodiscard]] bool ending() const { return ending_; }

    /// For nghttp2's callbacks; not for callers.
    struct callbacks;

  private:
    void dispatch_if_ready(h2_stream& stream, bool end_stream);
    void dispatch(h2_stream& stream);
    void count_frame(std::uint8_t type, std::uint8_t flags, std::size_t length);
    void terminate(std::uint32_t error_code);
    void on_shutdown_notice_sent();
    void on_ping_ack(std::span<std::uint8_t const, 8> opaque);

    /// RFC 9113 §5.1.1: a HEADERS for a stream ID at or below the highest seen, that is not an
    /// open stream's trailers, reuses an ID or steps back. nghttp2 ignores it; we end the
    /// connection, except for a stream we reset ourselves, whose frames may still be on the way.
    [[nodiscard]] bool reuses_stream_id(std::int32_t id) const;
    void remember_reset(std::int32_t id);

    h2_handler& handler_;
    limits limits_;
    std::int32_t highest_stream_{0};
    std::array<std::int32_t, 64> reset_by_us_{}; ///< the latest, in a ring
    std::size_t next_reset_slot_{0};
    nghttp2_session* session_{nullptr};
    std::unordered_map<std::int32_t, std::unique_ptr<h2_stream>> streams_;
    std::size_t requests_{0};
    bool ending_{false};
    bool shutdown_ping_out_{false}; ///< shut_down()'s PING, whose ACK the last GOAWAY waits for

    struct frame_counts
    {
        std::chrono::steady_clock::time_point window_start{};
        unsigned settings{0};
        unsigned pings{0};
        unsigned empty_data{0};
        unsigned priority{0};
        unsigned resets{0};
    } counts_;
    unsigned continuations_{0}; ///< since the last HEADERS
    unsigned oversized_blocks_{0};
};

/// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": how an h2c client with prior knowledge opens (RFC 9113
/// §3.4).
[[nodiscard]] std::string_view h2_client_preface();

} // namespace hello_async
