"""HTTP/2 conformance (RFC 9113), in the manner of h2spec: each case sends frames over a real
socket and checks the answer the RFC requires."""

import struct
import time
import unittest

from hyperframe import frame as hf

import harness as h
from harness import H2


class conformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = h.Daemon(limits='header_fields = 20\nheader_bytes = 4096\n'
                                     'body_bytes = 1000')

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def setUp(self):
        self.conn = H2(self.daemon.port)

    def tearDown(self):
        self.conn.close()

    def assert_goaway(self, code, conn=None):
        conn = conn or self.conn
        goaway = conn.wait_closed()
        self.assertIsNotNone(goaway, "closed without GOAWAY")
        self.assertEqual(goaway.error_code, code, goaway.additional_data)

    def assert_reset(self, stream, code):
        frame = self.conn.wait_for_reset(stream)
        self.assertEqual(frame.error_code, code)
        # A stream error leaves the connection usable.
        status, _, _ = self.conn.get("/")
        self.assertEqual(status, 200)

    # §3.4: the connection preface.
    def test_server_preface_is_settings_with_our_limits(self):
        first = self.conn.next_frame()
        self.assertIsInstance(first, hf.SettingsFrame)
        self.assertNotIn("ACK", first.flags)
        self.assertEqual(first.settings[hf.SettingsFrame.MAX_CONCURRENT_STREAMS], 128)
        self.assertEqual(first.settings[hf.SettingsFrame.MAX_HEADER_LIST_SIZE], 4096)

    def test_tls_client_with_a_bad_preface_is_closed(self):
        conn = H2(self.daemon.tls_port, tls=True, preface=False)
        conn.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
        conn.wait_closed()
        self.assertTrue(conn.goaway is None or conn.goaway.error_code == h.PROTOCOL_ERROR)
        conn.close()

    def test_settings_are_acknowledged(self):
        self.conn.send_frame(hf.SettingsFrame(0, settings={hf.SettingsFrame.ENABLE_PUSH: 0}))
        self.conn.wait_for(lambda f: isinstance(f, hf.SettingsFrame) and "ACK" in f.flags)

    def test_ping_is_answered_with_the_same_data(self):
        self.conn.send_frame(hf.PingFrame(0, opaque_data=b"12345678"))
        pong = self.conn.wait_for(lambda f: isinstance(f, hf.PingFrame) and "ACK" in f.flags)
        self.assertEqual(pong.opaque_data, b"12345678")

    # §4.2: frame size.
    def test_frame_larger_than_max_frame_size_is_frame_size_error(self):
        stream = self.conn.new_stream()
        block = self.conn.block([(":method", "POST"), (":scheme", "http"),
                                 (":authority", "localhost"), (":path", "/")])
        self.conn.headers(stream, None, end_stream=False, raw_block=block)
        oversized = struct.pack(">I", 16385)[1:] + bytes([0, 0]) + struct.pack(">I", stream)
        self.conn.send(oversized + b"x" * 16385)
        self.assert_goaway(h.FRAME_SIZE_ERROR)

    def test_ping_of_wrong_length_is_frame_size_error(self):
        self.conn.send(b"\x00\x00\x07\x06\x00\x00\x00\x00\x00" + b"1234567")
        self.assert_goaway(h.FRAME_SIZE_ERROR)

    def test_settings_of_wrong_length_is_frame_size_error(self):
        self.conn.send(b"\x00\x00\x05\x04\x00\x00\x00\x00\x00" + b"\x00\x03\x00\x00\x00")
        self.assert_goaway(h.FRAME_SIZE_ERROR)

    # §5.1: stream states.
    def test_data_on_an_idle_stream_is_protocol_error(self):
        self.conn.send_frame(hf.DataFrame(1, b"hello"))
        self.assert_goaway(h.PROTOCOL_ERROR)

    def test_headers_on_an_even_stream_is_protocol_error(self):
        self.conn.headers(2, [(":method", "GET"), (":scheme", "http"),
                              (":authority", "localhost"), (":path", "/")])
        self.assert_goaway(h.PROTOCOL_ERROR)

    def test_rst_stream_on_an_idle_stream_is_protocol_error(self):
        self.conn.send_frame(hf.RstStreamFrame(5, error_code=h.CANCEL))
        self.assert_goaway(h.PROTOCOL_ERROR)

    def test_data_after_end_stream_is_stream_closed(self):
        stream = self.conn.request("/sleep")
        self.conn.send_frame(hf.DataFrame(stream, b"late"))
        frame = self.conn.wait_for(lambda f: isinstance(f, (hf.RstStreamFrame, hf.GoAwayFrame)))
        self.assertEqual(frame.error_code, h.STREAM_CLOSED)

    def test_stream_id_reuse_is_protocol_error(self):
        stream = self.conn.request("/")
        self.conn.response(stream)
        self.conn.headers(stream, [(":method", "GET"), (":scheme", "http"),
                                   (":authority", "localhost"), (":path", "/")])
        goaway = self.conn.wait_closed()
        self.assertIn(goaway.error_code, (h.PROTOCOL_ERROR, h.STREAM_CLOSED))

    def test_decreasing_stream_id_is_protocol_error(self):
        self.conn.headers(5, [(":method", "GET"), (":scheme", "http"),
                              (":authority", "localhost"), (":path", "/")])
        self.conn.headers(3, [(":method", "GET"), (":scheme", "http"),
                              (":authority", "localhost"), (":path", "/")])
        self.assert_goaway(h.PROTOCOL_ERROR)

    def test_streams_beyond_the_advertised_maximum_are_refused(self):
        streams = [self.conn.request("/sleep") for _ in range(129)]
        frame = self.conn.wait_for(lambda f: isinstance(f, (hf.RstStreamFrame, hf.GoAwayFrame)))
        self.assertIsInstance(frame, hf.RstStreamFrame)
        self.assertEqual(frame.stream_id, streams[-1])
        self.assertIn(frame.error_code, (h.REFUSED_STREAM, h.PROTOCOL_ERROR))

    # §6.9: flow control.
    def test_window_update_of_zero_on_a_stream_is_a_stream_error(self):
        stream = self.conn.request("/sleep")
        self.conn.send(_zero_update(stream))
        frame = self.conn.wait_for(lambda f: isinstance(f, (hf.RstStreamFrame, hf.GoAwayFrame)))
        self.assertEqual(frame.error_code, h.PROTOCOL_ERROR)

    def test_window_update_of_zero_on_the_connection_is_protocol_error(self):
        self.conn.send(_zero_update(0))
        self.assert_goaway(h.PROTOCOL_ERROR)

    def test_window_beyond_2_31_is_flow_control_error(self):
        self.conn.send_frame(hf.WindowUpdateFrame(0, 2**31 - 1))
        self.assert_goaway(h.FLOW_CONTROL_ERROR)

    def test_server_sends_no_more_than_the_window(self):
        conn = H2(self.daemon.port, settings={hf.SettingsFrame.INITIAL_WINDOW_SIZE: 100})
        stream = conn.request("/files/big.bin")
        received = 0
        deadline = time.monotonic() + 1
        # Whatever the server sends before we open the window must fit in 100 bytes.
        try:
            while time.monotonic() < deadline:
                frame = conn.next_frame(timeout=deadline - time.monotonic())
                if isinstance(frame, hf.DataFrame):
                    received += frame.flow_controlled_length
        except TimeoutError:
            pass
        self.assertEqual(received, 100)
        conn.send_frame(hf.WindowUpdateFrame(stream, 1000))
        more = conn.wait_for(lambda f: isinstance(f, hf.DataFrame))
        self.assertLessEqual(more.flow_controlled_length, 1000)
        conn.close()

    # §4.3 and RFC 7541: header compression.
    def test_invalid_hpack_index_is_compression_error(self):
        stream = self.conn.new_stream()
        self.conn.headers(stream, None, raw_block=b"\xff\xff\x7f")
        self.assert_goaway(h.COMPRESSION_ERROR)

    # §8.3: pseudo-header and field rules: a malformed request is a stream error.
    def malformed(self, fields):
        stream = self.conn.new_stream()
        self.conn.headers(stream, fields)
        self.assert_reset(stream, h.PROTOCOL_ERROR)

    def test_missing_path_is_malformed(self):
        self.malformed([(":method", "GET"), (":scheme", "http"), (":authority", "localhost")])

    def test_empty_path_is_malformed(self):
        self.malformed([(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                        (":path", "")])

    def test_missing_method_is_malformed(self):
        self.malformed([(":scheme", "http"), (":authority", "localhost"), (":path", "/")])

    def test_uppercase_field_name_is_malformed(self):
        self.malformed([(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                        (":path", "/"), ("X-Upper", "1")])

    def test_connection_specific_field_is_malformed(self):
        self.malformed([(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                        (":path", "/"), ("connection", "keep-alive")])

    def test_te_other_than_trailers_is_malformed(self):
        self.malformed([(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                        (":path", "/"), ("te", "gzip")])

    def test_te_trailers_is_allowed(self):
        status, _, _ = self.conn.get("/", extra=[("te", "trailers")])
        self.assertEqual(status, 200)

    def test_pseudo_header_after_a_regular_field_is_malformed(self):
        self.malformed([(":method", "GET"), (":scheme", "http"), ("accept", "*/*"),
                        (":authority", "localhost"), (":path", "/")])

    def test_duplicate_pseudo_header_is_malformed(self):
        self.malformed([(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                        (":path", "/"), (":path", "/")])

    def test_unknown_pseudo_header_is_malformed(self):
        self.malformed([(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                        (":path", "/"), (":foo", "bar")])

    def test_content_length_that_disagrees_with_data_is_malformed(self):
        stream = self.conn.new_stream()
        self.conn.headers(stream, [(":method", "POST"), (":scheme", "http"),
                                   (":authority", "localhost"), (":path", "/"),
                                   ("content-length", "10")], end_stream=False)
        data = hf.DataFrame(stream, b"abc")
        data.flags.add("END_STREAM")
        self.conn.send_frame(data)
        self.assert_reset(stream, h.PROTOCOL_ERROR)

    # The [limits] hold per stream, and are answered on the stream.
    def test_too_many_fields_is_431_on_the_stream(self):
        extra = [(f"x-field-{i}", "v") for i in range(21)]
        status, _, _ = self.conn.get("/", extra=extra)
        self.assertEqual(status, 431)
        status, _, _ = self.conn.get("/")
        self.assertEqual(status, 200)

    def test_too_large_header_list_is_431_on_the_stream(self):
        status, _, _ = self.conn.get("/", extra=[("x-big", "v" * 5000)])
        self.assertEqual(status, 431)
        status, _, _ = self.conn.get("/")
        self.assertEqual(status, 200)

    def test_too_long_target_is_414(self):
        status, _, _ = self.conn.get("/" + "a" * 9000)
        self.assertIn(status, (414, 431))

    def test_body_over_the_limit_is_413(self):
        stream = self.conn.request("/", method="POST", end_stream=False)
        self.conn.send_frame(hf.DataFrame(stream, b"x" * 1001))
        status, _, _ = self.conn.response(stream)
        self.assertEqual(status, 413)

    def test_missing_authority_and_host_is_malformed(self):
        # RFC 9113 §8.3.1 wants :authority from clients; nghttp2 treats a request without it
        # and without Host as malformed.
        self.malformed([(":method", "GET"), (":scheme", "http"), (":path", "/")])

    def test_host_field_serves_without_authority(self):
        stream = self.conn.new_stream()
        self.conn.headers(stream, [(":method", "GET"), (":scheme", "http"), (":path", "/"),
                                   ("host", "localhost")])
        status, _, _ = self.conn.response(stream)
        self.assertEqual(status, 200)

    def test_every_request_is_logged_with_http_version_2(self):
        start = len(self.daemon.lines)
        self.conn.get("/nope-logged")
        self.daemon.wait_for_log(r"GET /nope-logged HTTP/2 404 ", start=start)


def _zero_update(stream):
    """WINDOW_UPDATE with an increment of 0, which hyperframe refuses to build."""
    return b"\x00\x00\x04\x08\x00" + struct.pack(">I", stream) + b"\x00\x00\x00\x00"


if __name__ == "__main__":
    unittest.main()
