"""Hostile HTTP/2 peers: each abuse must end with the connection closed within 2 s of its start,
with GOAWAY ENHANCE_YOUR_CALM or PROTOCOL_ERROR where one can be sent, for at most 1 s of the
daemon's CPU and 16 MiB of extra RSS. Timing-sensitive: run in the plain build only, not under
the sanitizers."""

import struct
import threading
import time
import unittest

from hyperframe import frame as hf

import harness as h
from harness import H2

CLOSE_WITHIN = 2.0
CPU_SECONDS_MAX = 1.0
EXTRA_RSS_KIB_MAX = 16 * 1024
ABUSE_SECONDS_MAX = 3.0


class closing_watch:
    """Reads what the server sends on its own thread (without writing: the attack owns the
    socket's sending side) and notes the GOAWAY and the moment the connection closed."""

    def __init__(self, sock):
        self.sock = sock
        self.goaway_code = None
        self.closed_at = None
        self.closed = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        buffer = b""
        self.sock.settimeout(ABUSE_SECONDS_MAX + 5)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while len(buffer) >= 9:
                    frame, length = hf.Frame.parse_frame_header(memoryview(buffer[:9]))
                    if len(buffer) < 9 + length:
                        break
                    if isinstance(frame, hf.GoAwayFrame):
                        frame.parse_body(memoryview(buffer[9:9 + length]))
                        self.goaway_code = frame.error_code
                    buffer = buffer[9 + length:]
        except OSError:
            pass
        self.closed_at = time.monotonic()
        self.closed.set()


def status_kib(pid, key):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(key)


class floods(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = h.Daemon(limits='send_timeout = "1s"', sleep="5s")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def abuse(self, attack, *, settings=None, prepare=None, goaway=(h.ENHANCE_YOUR_CALM,)):
        """Runs `attack(conn)` in a loop (each call sends a batch) until the server closes, or
        until it returns False: it has nothing more to send, and the wait is for the server."""
        pid = self.daemon.proc.pid
        conn = H2(self.daemon.port, settings=settings)
        if prepare:
            prepare(conn)
        cpu_before = self.daemon.cpu_seconds()
        rss_before = status_kib(pid, "VmRSS")
        peak_before = status_kib(pid, "VmHWM")
        watch = closing_watch(conn.sock)
        started = time.monotonic()
        while not watch.closed.is_set() and time.monotonic() - started < ABUSE_SECONDS_MAX:
            try:
                if attack(conn) is False:
                    break
            except OSError:
                break
        watch.closed.wait(ABUSE_SECONDS_MAX + 5)
        self.assertTrue(watch.closed.is_set(), "the connection was never closed")
        took = watch.closed_at - started
        cpu = self.daemon.cpu_seconds() - cpu_before
        peak_after = status_kib(pid, "VmHWM")
        extra_rss = max(status_kib(pid, "VmRSS"),
                        peak_after if peak_after > peak_before else 0) - rss_before
        print(f"\n{self.id()}: closed after {took:.3f} s, daemon CPU {cpu:.3f} s, "
              f"extra RSS {extra_rss} KiB, GOAWAY {watch.goaway_code}")
        self.assertLessEqual(took, CLOSE_WITHIN)
        self.assertLessEqual(cpu, CPU_SECONDS_MAX)
        self.assertLessEqual(extra_rss, EXTRA_RSS_KIB_MAX)
        if goaway:
            self.assertIn(watch.goaway_code, goaway)
        conn.close()
        # The daemon goes on serving others.
        other = H2(self.daemon.port)
        self.assertEqual(other.get("/")[0], 200)
        other.close()

    def rapid_reset(self, path):
        """Streams opened and cancelled in a loop (CVE-2023-44487)."""
        def attack(conn):
            out = b""
            for _ in range(50):
                stream = conn.new_stream()
                frame = hf.HeadersFrame(stream, conn.block([
                    (":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                    (":path", path)]), flags=["END_HEADERS", "END_STREAM"])
                out += frame.serialize() + hf.RstStreamFrame(stream, h.CANCEL).serialize()
            conn.send(out)
        self.abuse(attack)

    def test_rapid_reset(self):
        self.rapid_reset("/")

    def test_rapid_reset_of_sleeping_streams(self):
        self.rapid_reset("/sleep")

    def test_continuation_flood(self):
        state = {}

        def prepare(conn):
            stream = conn.new_stream()
            block = conn.block([(":method", "GET"), (":scheme", "http"),
                                (":authority", "localhost"), (":path", "/")])
            conn.send_frame(hf.HeadersFrame(stream, block))  # no END_HEADERS
            state["stream"] = stream

        def attack(conn):
            # Literal fields without indexing, never ending the block.
            field = b"\x00\x05x-pad\x7f\xe9\x06" + b"a" * 1000
            frame = hf.ContinuationFrame(state["stream"], field * 16)
            conn.send(frame.serialize() * 10)
        self.abuse(attack, prepare=prepare)

    def test_hpack_bomb(self):
        def prepare(conn):
            # One 4000-byte field into the decoder's dynamic table (literal with indexing)...
            status, _, _ = conn.get("/", extra=[("x-bomb", "a" * 4000)])
            self.assertEqual(status, 200)

        def attack(conn):
            # ...then blocks that refer to it 16,000 times each: 64 MB decoded from 16 KB. The
            # request's own fields use the static table only, leaving the bomb at index 62.
            stream = conn.new_stream()
            block = b"\x82\x86\x84\x01\x09localhost" + b"\xbe" * 16000
            conn.send_frame(hf.HeadersFrame(stream, block, flags=["END_HEADERS", "END_STREAM"]))
        self.abuse(attack, prepare=prepare)

    def test_settings_flood(self):
        frame = hf.SettingsFrame(0, settings={hf.SettingsFrame.HEADER_TABLE_SIZE: 4096})
        self.abuse(lambda conn: conn.send(frame.serialize() * 100))

    def test_ping_flood(self):
        frame = hf.PingFrame(0, opaque_data=b"flooding")
        self.abuse(lambda conn: conn.send(frame.serialize() * 100))

    def test_priority_flood(self):
        frame = hf.PriorityFrame(1, depends_on=0, stream_weight=16)
        self.abuse(lambda conn: conn.send(frame.serialize() * 500))

    def test_empty_data_flood(self):
        state = {}

        def prepare(conn):
            state["stream"] = conn.request("/", method="POST", end_stream=False)

        def attack(conn):
            conn.send(hf.DataFrame(state["stream"], b"").serialize() * 100)
        self.abuse(attack, prepare=prepare)

    def test_zero_window_that_never_opens_is_cut_after_send_timeout(self):
        def attack(conn):
            conn.request("/files/big.bin")
            return False  # and never open the window
        self.abuse(attack, settings={hf.SettingsFrame.INITIAL_WINDOW_SIZE: 0},
                   goaway=(h.NO_ERROR,))

    def test_stream_id_reuse(self):
        def attack(conn):
            fields = [(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                      (":path", "/")]
            conn.send_frame(hf.HeadersFrame(1, conn.block(fields),
                                            flags=["END_HEADERS", "END_STREAM"]))
        self.abuse(attack, goaway=(h.PROTOCOL_ERROR, h.STREAM_CLOSED))

    def test_window_overflow(self):
        frame = hf.WindowUpdateFrame(0, 2**31 - 1)
        self.abuse(lambda conn: conn.send(frame.serialize() * 2),
                   goaway=(h.FLOW_CONTROL_ERROR,))

    def test_garbage_frames(self):
        # Frames of an unknown type must be ignored (RFC 9113 §4.1), and cost next to nothing;
        # then a DATA frame on stream 0 is a protocol error.
        unknown = b"\x00\x00\x08\xfa\x00\x00\x00\x00\x00" + b"\x00" * 8

        def attack(conn):
            conn.send(unknown * 200 + struct.pack(">I", 3)[1:] + b"\x00\x00" +
                      b"\x00\x00\x00\x00" + b"abc")
        self.abuse(attack, goaway=(h.PROTOCOL_ERROR,))


if __name__ == "__main__":
    unittest.main()
