#include "hello_async/http/h2_session.hpp"

#include "hello_async/http/decimal.hpp"
#include "hello_async/http/response.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>
#include <nghttp2/nghttp2.h>
#include <span>
#include <unistd.h>

namespace hello_async {
namespace {

using steady = std::chrono::steady_clock;

constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// RFC 9113 §6.8: the last stream ID of a GOAWAY that only announces a shutdown.
constexpr std::int32_t largest_stream_id = 0x7fffffff;

/// The opaque data of the PING that times a graceful shutdown.
constexpr std::array<std::uint8_t, 8> shutdown_ping{'s', 'h', 'u', 't', 'd', 'o', 'w', 'n'};

std::string_view view_of(std::uint8_t const* data, std::size_t length)
{
    // nghttp2 hands out bytes as uint8_t; they are the same bytes as char.
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    return {reinterpret_cast<char const*>(data), length};
}

/// What one read of a response's file takes: four DATA frames' worth.
constexpr std::size_t read_ahead_bytes = std::size_t{64} * 1024;

/// Copies `out.size()` bytes of a file region (cached or open) from `position` into `out`; an
/// open file through `ahead`.
bool copy_region(response_body const& body,
                 std::uint64_t position,
                 std::span<char> out,
                 file_read_ahead& ahead)
{
    if (body.cached) {
        std::memcpy(out.data(), body.cached->data() + position, out.size());
        return true;
    }
    bool const held = position >= ahead.start && position + out.size() <= ahead.start + ahead.size;
    if (!held) {
        auto const capacity = std::max(out.size(), read_ahead_bytes);
        if (!ahead.bytes || capacity > read_ahead_bytes) {
            // NOLINTNEXTLINE(*-avoid-c-arrays): a buffer read into, never initialised first
            ahead.bytes = std::make_unique_for_overwrite<char[]>(capacity);
        }
        ahead.start = position;
        ahead.size = 0;
        while (ahead.size < capacity) {
            auto const n =
                ::pread(body.file.get(), ahead.bytes.get() + ahead.size, capacity - ahead.size,
                        static_cast<off_t>(position + ahead.size));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break; // the end of the file, or an error
            ahead.size += static_cast<std::size_t>(n);
        }
        if (ahead.size < out.size())
            return false; // the file shrank under us: the promised length cannot be kept
    }
    std::memcpy(out.data(), ahead.bytes.get() + (position - ahead.start), out.size());
    return true;
}

/// Copies `out.size()` bytes of the response body from `position` into `out`: the body's
/// bytes, a region of its file, or its parts (delimiters and regions) as one sequence.
bool copy_body(response_body const& body,
               std::uint64_t position,
               std::span<char> out,
               file_read_ahead& ahead)
{
    if (body.parts.empty()) {
        if (!body.cached && !body.file) {
            std::memcpy(out.data(), body.bytes.data() + position, out.size());
            return true;
        }
        return copy_region(body, body.offset + position, out, ahead);
    }
    std::uint64_t start = 0; // of the current piece within the body
    for (auto const& part : body.parts) {
        if (out.empty())
            return true;
        auto const text_end = start + part.text.size();
        if (position < text_end) {
            auto const from = position - start;
            auto const n = std::min<std::uint64_t>(part.text.size() - from, out.size());
            std::memcpy(out.data(), part.text.data() + from, n);
            out = out.subspan(n);
            position += n;
        }
        auto const region_end = text_end + part.length;
        if (!out.empty() && position < region_end) {
            auto const from = position - text_end;
            auto const n = std::min<std::uint64_t>(part.length - from, out.size());
            if (!copy_region(body, part.offset + from, out.first(n), ahead))
                return false;
            out = out.subspan(n);
            position += n;
        }
        start = region_end;
    }
    return out.empty();
}

h2_stream* stream_of(nghttp2_session* session, std::int32_t id)
{
    return static_cast<h2_stream*>(nghttp2_session_get_stream_user_data(session, id));
}

/// The size a field has in an HTTP/1.1 head ("name: value\r\n"), so that [limits].header_bytes
/// means the same over both protocols.
constexpr std::size_t line_overhead = 4;

} // namespace

struct h2_session::callbacks
{
    static h2_session& self(void* user_data) { return *static_cast<h2_session*>(user_data); }

    static int on_begin_frame(nghttp2_session* /*session*/, nghttp2_frame_hd const* hd, void* user)
    {
        auto& s = self(user);
        // Counted as each frame begins: nghttp2 passes some (PRIORITY) to no other callback.
        s.count_frame(hd->type, hd->flags, hd->length);
        if (hd->type != NGHTTP2_HEADERS || hd->stream_id <= 0)
            return 0;
        if (s.reuses_stream_id(hd->stream_id)) {
            s.terminate(NGHTTP2_PROTOCOL_ERROR);
            return 0;
        }
        s.highest_stream_ = std::max(s.highest_stream_, hd->stream_id);
        return 0;
    }

    static int on_begin_headers(nghttp2_session* session, nghttp2_frame const* frame, void* user)
    {
        auto& s = self(user);
        if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
            return 0;
        auto stream = std::make_unique<h2_stream>();
        stream->id = frame->hd.stream_id;
        stream->started = steady::now();
        stream->last_progress = stream->started;
        if (nghttp2_session_set_stream_user_data(session, stream->id, stream.get()) != 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        s.streams_.emplace(stream->id, std::move(stream));
        // nginx's keepalive_requests holds for HTTP/2 too: after the last one, GOAWAY.
        if (++s.requests_ == s.limits_.max_requests_per_connection) {
            nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR,
                                  nullptr, 0);
        }
        return 0;
    }

    static int on_header(nghttp2_session* session,
                         nghttp2_frame const* frame,
                         std::uint8_t const* name_data,
                         std::size_t name_length,
                         std::uint8_t const* value_data,
                         std::size_t value_length,
                         std::uint8_t /*flags*/,
                         void* user)
    {
        auto& s = self(user);
        auto* stream = stream_of(session, frame->hd.stream_id);
        if (stream == nullptr || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
            return 0; // trailers carry nothing we answer by
        auto const name = view_of(name_data, name_length);
        auto const value = view_of(value_data, value_length);
        stream->header_bytes += name.size() + value.size() + line_overhead;
        bool const pseudo = name.starts_with(':');
        if (!pseudo)
            ++stream->header_fields;
        if (stream->header_bytes > s.limits_.header_bytes ||
            stream->header_fields > s.limits_.header_fields)
        {
            // The rest of the block is still decoded (HPACK's state depends on it) but kept
            // nowhere: a small block that decodes huge costs no memory.
            if (stream->refusal != 431 &&
                ++s.oversized_blocks_ > h2_frame_limits::oversized_header_blocks)
                s.terminate(NGHTTP2_ENHANCE_YOUR_CALM);
            stream->refusal = 431;
            return 0;
        }
        if (stream->refusal != 0)
            return 0;
        if (name == ":method") {
            stream->method = value;
        } else if (name == ":path") {
            stream->path = value;
        } else if (name == ":authority") {
            stream->authority_field = value;
        } else if (!pseudo) {
            stream->head.insert(name, value);
        }
        return 0;
    }

    static int on_frame_recv(nghttp2_session* session, nghttp2_frame const* frame, void* user)
    {
        auto& s = self(user);
        if (s.ending_)
            return 0;
        if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK) != 0) {
            s.on_ping_ack(std::span<std::uint8_t const, 8>{frame->ping.opaque_data});
            return 0;
        }
        if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
            return 0;
        auto* stream = stream_of(session, frame->hd.stream_id);
        if (stream == nullptr || stream->state == h2_stream::phase::answering ||
            stream->state == h2_stream::phase::responding)
            return 0;
        bool const end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
        if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
            stream->last_progress = steady::now();
            stream->state = h2_stream::phase::body;
            s.dispatch_if_ready(*stream, end_stream);
        } else if (end_stream) {
            s.dispatch_if_ready(*stream, true);
        }
        return 0;
    }

    static int on_data_chunk(nghttp2_session* session,
                             std::uint8_t /*flags*/,
                             std::int32_t stream_id,
                             std::uint8_t const* /*data*/,
                             std::size_t length,
                             void* user)
    {
        auto& s = self(user);
        auto* stream = stream_of(session, stream_id);
        if (stream == nullptr)
            return 0;
        stream->body_bytes += length;
        stream->last_progress = steady::now();
        if (stream->body_bytes > s.limits_.body_bytes && stream->state == h2_stream::phase::body) {
            stream->refusal = 413;
            s.dispatch(*stream);
        }
        return 0;
    }

    static int on_frame_send(nghttp2_session* session, nghttp2_frame const* frame, void* user)
    {
        if (frame->hd.type == NGHTTP2_RST_STREAM)
            self(user).remember_reset(frame->hd.stream_id);
        if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.last_stream_id == largest_stream_id)
            self(user).on_shutdown_notice_sent();
        // RFC 9113 §8.1: a response sent before the request's body ended asks the client to
        // stop sending it.
        if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
            (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0)
            return 0;
        if (stream_of(session, frame->hd.stream_id) != nullptr &&
            nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0)
        {
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                      NGHTTP2_NO_ERROR);
        }
        return 0;
    }

    static int on_stream_close(nghttp2_session* session,
                               std::int32_t stream_id,
                               std::uint32_t error_code,
                               void* user)
    {
        auto& s = self(user);
        auto* stream = stream_of(session, stream_id);
        if (stream == nullptr)
            return 0;
        s.handler_.on_close(*stream, error_code);
        nghttp2_session_set_stream_user_data(session, stream_id, nullptr);
        s.streams_.erase(stream_id);
        return 0;
    }

    static ssize_t read_body(nghttp2_session* /*session*/,
                             std::int32_t /*stream_id*/,
                             std::uint8_t* buf,
                             std::size_t length,
                             std::uint32_t* data_flags,
                             nghttp2_data_source* source,
                             void* /*user*/)
    {
        auto& stream = *static_cast<h2_stream*>(source->ptr);
        auto const n = static_cast<std::size_t>(
            std::min<std::uint64_t>(length, stream.body_total - stream.body_sent));
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the same bytes as char
        std::span<char> out{reinterpret_cast<char*>(buf), n};
        if (!copy_body(stream.plan.body, stream.body_sent, out, stream.ahead))
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; // the file shrank: reset the stream
        stream.body_sent += n;
        stream.last_progress = steady::now();
        if (stream.body_sent == stream.body_total)
            *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
    }
};

h2_session::h2_session(h2_handler& handler, http2_config const& h2, limits const& lim)
    : handler_{handler}
    , limits_{lim}
{
    nghttp2_session_callbacks* cbs = nullptr;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        throw std::bad_alloc{};
    nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, callbacks::on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, callbacks::on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, callbacks::on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, callbacks::on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, callbacks::on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, callbacks::on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, callbacks::on_stream_close);

    nghttp2_option* options = nullptr;
    if (nghttp2_option_new(&options) != 0) {
        nghttp2_session_callbacks_del(cbs);
        throw std::bad_alloc{};
    }
    nghttp2_option_set_stream_reset_rate_limit(options, h2_frame_limits::library_resets_burst,
                                               h2_frame_limits::library_resets_per_second);
    nghttp2_option_set_max_continuations(options, h2_frame_limits::library_continuations);
    // Closed streams are not kept for the RFC 7540 priority tree, which we do not use.
    nghttp2_option_set_no_closed_streams(options, 1);
    int const rv = nghttp2_session_server_new2(&session_, cbs, this, options);
    nghttp2_option_del(options);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0)
        throw std::bad_alloc{};

    std::array<nghttp2_settings_entry, 3> const settings{{
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, h2.max_concurrent_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, lim.header_bytes},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    }};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
}

h2_session::~h2_session()
{
    // nghttp2 calls on_stream_close for what is still open: the handler may be half gone.
    for (auto const& [id, stream] : streams_)
        nghttp2_session_set_stream_user_data(session_, id, nullptr);
    nghttp2_session_del(session_);
}

bool h2_session::receive(std::string_view bytes)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the same bytes as uint8_t
    auto const* data = reinterpret_cast<std::uint8_t const*>(bytes.data());
    auto const used = nghttp2_session_mem_recv(session_, data, bytes.size());
    if (used < 0)
        return false;
    return !ending_ && nghttp2_session_want_read(session_) != 0;
}

bool h2_session::pull(std::string& out, std::size_t enough)
{
    while (out.size() < enough) {
        std::uint8_t const* data = nullptr;
        auto const n = nghttp2_session_mem_send(session_, &data);
        if (n < 0)
            return false;
        if (n == 0)
            break;
        out.append(view_of(data, static_cast<std::size_t>(n)));
    }
    return true;
}

bool h2_session::wants_write() const
{
    return nghttp2_session_want_write(session_) != 0;
}

bool h2_session::finished() const
{
    return nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
}

h2_stream* h2_session::find(std::int32_t id)
{
    auto const it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
}

void h2_session::shut_down()
{
    // Without an ACK (a client that breaks §6.7) the last GOAWAY never goes: the connection
    // then ends at its keep-alive timeout or the drain's grace period, whichever comes first.
    nghttp2_submit_shutdown_notice(session_);
}

void h2_session::on_shutdown_notice_sent()
{
    // Behind the notice, not with it (nghttp2 would send a PING first): its ACK then proves
    // that the client has read the notice.
    if (nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, shutdown_ping.data()) == 0)
        shutdown_ping_out_ = true;
}

void h2_session::on_ping_ack(std::span<std::uint8_t const, 8> opaque)
{
    if (!shutdown_ping_out_ || !std::equal(opaque.begin(), opaque.end(), shutdown_ping.begin()))
        return;
    shutdown_ping_out_ = false;
    // Every stream the client began before it read the notice has now been read too.
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
}

void h2_session::give_up(std::string_view why)
{
    ending_ = true;
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the same bytes as uint8_t
    auto const* data = reinterpret_cast<std::uint8_t const*>(why.data());
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR, data,
                          why.size());
}

void h2_session::terminate(std::uint32_t error_code)
{
    ending_ = true;
    nghttp2_session_terminate_session(session_, error_code);
}

bool h2_session::reuses_stream_id(std::int32_t id) const
{
    if (id > highest_stream_ || streams_.contains(id))
        return false;
    return std::find(reset_by_us_.begin(), reset_by_us_.end(), id) == reset_by_us_.end();
}

void h2_session::remember_reset(std::int32_t id)
{
    reset_by_us_.at(next_reset_slot_) = id;
    next_reset_slot_ = (next_reset_slot_ + 1) % reset_by_us_.size();
}

void h2_session::count_frame(std::uint8_t type, std::uint8_t flags, std::size_t length)
{
    auto const now = steady::now();
    if (now - counts_.window_start >= std::chrono::seconds{1})
        counts_ = frame_counts{now};
    bool const ack = (flags & NGHTTP2_FLAG_ACK) != 0;
    bool flooded = false;
    switch (type) {
    case NGHTTP2_SETTINGS:
        flooded = !ack && ++counts_.settings > h2_frame_limits::settings_per_second;
        break;
    case NGHTTP2_PING:
        flooded = !ack && ++counts_.pings > h2_frame_limits::pings_per_second;
        break;
    case NGHTTP2_DATA:
        flooded = length == 0 && (flags & NGHTTP2_FLAG_END_STREAM) == 0 &&
                  ++counts_.empty_data > h2_frame_limits::empty_data_per_second;
        break;
    case NGHTTP2_PRIORITY:
        flooded = ++counts_.priority > h2_frame_limits::priority_per_second;
        break;
    case NGHTTP2_RST_STREAM:
        flooded = ++counts_.resets > h2_frame_limits::resets_per_second;
        break;
    case NGHTTP2_HEADERS:
        continuations_ = 0;
        break;
    case NGHTTP2_CONTINUATION:
        flooded = ++continuations_ > h2_frame_limits::continuations;
        break;
    default:
        break;
    }
    if (flooded && !ending_)
        terminate(NGHTTP2_ENHANCE_YOUR_CALM);
}

void h2_session::dispatch_if_ready(h2_stream& stream, bool end_stream)
{
    // The head is known; the answer does not depend on a body, but like HTTP/1.1 it waits for
    // the body to end, unless the client waits for a 100 first (RFC 9110 §10.1.1).
    if (end_stream || stream.refusal != 0 ||
        stream.head.find(boost::beast::http::field::expect) != stream.head.end())
        dispatch(stream);
}

void h2_session::dispatch(h2_stream& stream)
{
    auto& head = stream.head;
    head.version(11); // the semantics of HTTP/1.1 (RFC 9113 §8.3.1): one Host, from :authority
    if (stream.refusal == 0) {
        head.method_string(stream.method);
        head.target(stream.method == "CONNECT" ? stream.authority_field : stream.path);
        if (!stream.authority_field.empty())
            head.set(boost::beast::http::field::host, stream.authority_field);
        auto checked = check_request_head(head, limits_);
        stream.refusal = checked.refusal;
        stream.host = std::move(checked.host);
    }
    stream.state = h2_stream::phase::answering;
    handler_.on_request(stream);
}

void h2_session::respond(h2_stream& stream, std::shared_ptr<site const> site, response_plan plan)
{
    stream.answered_by = std::move(site);
    stream.plan = std::move(plan);
    stream.status = stream.plan.head.status;
    stream.state = h2_stream::phase::responding;
    stream.last_progress = steady::now();
    auto const& head = stream.plan.head;

    constexpr std::size_t most_fields = 20;
    std::array<nghttp2_nv, most_fields> fields{};
    std::size_t count = 0;
    // nghttp2 copies names and values before this returns, except for names marked as
    // static (these literals).
    auto add = [&fields, &count](std::string_view name, std::string_view value) {
        // nghttp2's API is not const-correct; it only reads through these.
        // NOLINTBEGIN(cppcoreguidelines-pro-type-const-cast,cppcoreguidelines-pro-type-reinterpret-cast)
        fields.at(count++) = nghttp2_nv{
            const_cast<std::uint8_t*>(reinterpret_cast<std::uint8_t const*>(name.data())),
            const_cast<std::uint8_t*>(reinterpret_cast<std::uint8_t const*>(value.data())),
            name.size(), value.size(), NGHTTP2_NV_FLAG_NO_COPY_NAME};
        // NOLINTEND(cppcoreguidelines-pro-type-const-cast,cppcoreguidelines-pro-type-reinterpret-cast)
    };
    decimal const status{head.status};
    add(":status", status.text());
    decimal const length{head.content_length};
    for_each_response_field(head, [&add, &length](field_name name, std::string_view value) {
        // The visitor's own digits are gone once it returns; these last until the submit.
        add(name.http2, name.http2 == "content-length" ? length.text() : value);
    });

    bool const has_body = stream.plan.send_body && head.content_length > 0;
    stream.body_total = has_body ? head.content_length : 0;
    nghttp2_data_provider provider{};
    provider.source.ptr = &stream;
    provider.read_callback = callbacks::read_body;
    nghttp2_submit_response(session_, stream.id, fields.data(), count,
                            has_body ? &provider : nullptr);
}

std::string_view h2_client_preface()
{
    return preface;
}

} // namespace hello_async
