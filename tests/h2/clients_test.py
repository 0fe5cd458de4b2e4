"""HTTP/2 with real clients (curl, nghttp) and the connection's life: cleartext off by default,
timeouts, the request limit, and a graceful stop."""

import signal
import subprocess
import time
import unittest

from hyperframe import frame as hf

import harness as h
from harness import H2


def curl(*args):
    result = subprocess.run(["curl", "-sS", "--max-time", "20", *args], check=True,
                            capture_output=True)
    return result.stdout


class real_clients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = h.Daemon()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def test_curl_over_tls_negotiates_h2(self):
        out = curl("-k", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                   f"https://localhost:{self.daemon.tls_port}/")
        self.assertEqual(out, b"2 200")

    def test_curl_with_prior_knowledge_speaks_h2c(self):
        body = curl("--http2-prior-knowledge", f"http://127.0.0.1:{self.daemon.port}/")
        self.assertEqual(body, h.hello_page())
        out = curl("--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version}",
                   f"http://127.0.0.1:{self.daemon.port}/files/big.bin")
        self.assertEqual(out, b"2")

    def test_upgrade_to_h2c_is_not_offered(self):
        # RFC 9113 §3.1 deprecates Upgrade: h2c; the request is answered over HTTP/1.1.
        out = curl("--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                   f"http://127.0.0.1:{self.daemon.port}/")
        self.assertEqual(out, b"1.1 200")

    def test_curl_gets_a_large_file_whole(self):
        body = curl("-k", "--http2", f"https://localhost:{self.daemon.tls_port}/files/big.bin")
        self.assertEqual(body, self.daemon.file("big.bin"))

    def test_nghttp_verbose_exchange(self):
        for url in (f"http://127.0.0.1:{self.daemon.port}/",
                    f"https://localhost:{self.daemon.tls_port}/"):
            with self.subTest(url=url):
                out = subprocess.run(["nghttp", "-nv", "-t", "20", url], check=True,
                                     capture_output=True, text=True).stdout
                self.assertIn("recv SETTINGS frame", out)
                self.assertIn("(niv=3)", out)
                self.assertIn("[SETTINGS_MAX_CONCURRENT_STREAMS(0x03):128]", out)
                self.assertIn(":status: 200", out)
                self.assertRegex(out, r"recv DATA frame <length=\d+, flags=0x01, stream_id=13>")


class cleartext_off(unittest.TestCase):
    def test_the_preface_on_a_plain_port_is_http_1_1_by_default(self):
        daemon = h.Daemon(http2="")
        try:
            sock = h.connect(daemon.port)
            sock.sendall(h.PREFACE)
            answer = sock.recv(4096)
            self.assertTrue(answer.startswith(b"HTTP/1.1 505 "), answer[:40])
            sock.close()
        finally:
            daemon.stop()


class connection_life(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = h.Daemon(limits='keepalive_timeout = "1s"\nheader_timeout = "1s"\n'
                                     'body_timeout = "1s"\nmax_requests_per_connection = 3',
                              sleep="2s")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def closes_after(self, conn, least, most, timeout_name):
        """The connection closes between `least` and `most` seconds from now, after a GOAWAY
        NO_ERROR that names the timeout (RFC 9113 §9.1)."""
        started = time.monotonic()
        goaway = conn.wait_closed(timeout=most + 2)
        took = time.monotonic() - started
        self.assertGreaterEqual(took, least)
        self.assertLessEqual(took, most)
        self.assertIsNotNone(goaway, "closed without GOAWAY")
        self.assertEqual(goaway.error_code, h.NO_ERROR)
        self.assertEqual(goaway.additional_data, timeout_name.encode())

    def test_idle_connection_is_closed_after_keepalive_timeout(self):
        conn = H2(self.daemon.port)
        self.assertEqual(conn.get("/")[0], 200)
        self.closes_after(conn, 0.9, 1.6, "keepalive_timeout")

    def test_sleeping_stream_keeps_the_connection_past_keepalive_timeout(self):
        conn = H2(self.daemon.port)
        started = time.monotonic()
        # HEAD: no body, so the client sends nothing (no WINDOW_UPDATE) after the answer.
        status, _, _ = conn.get("/sleep", method="HEAD")
        self.assertEqual(status, 200)
        self.assertGreaterEqual(time.monotonic() - started, 2.0)
        # The keep-alive timeout runs from the end of the stream, not from the request.
        self.closes_after(conn, 0.9, 1.6, "keepalive_timeout")

    def test_unfinished_header_block_is_cut_after_header_timeout(self):
        conn = H2(self.daemon.port)
        # Settings first, both ways: a SETTINGS ACK inside the header block would be a
        # protocol error of ours.
        conn.wait_for(lambda f: isinstance(f, hf.SettingsFrame) and "ACK" in f.flags)
        stream = conn.new_stream()
        conn.headers(stream, [(":method", "GET"), (":scheme", "http"),
                              (":authority", "localhost"), (":path", "/")],
                     end_headers=False)
        self.closes_after(conn, 0.9, 1.6, "header_timeout")

    def test_body_that_stops_is_cut_after_body_timeout(self):
        conn = H2(self.daemon.port)
        stream = conn.request("/", method="POST", end_stream=False)
        conn.send_frame(hf.DataFrame(stream, b"some"))
        self.closes_after(conn, 0.9, 1.6, "body_timeout")

    def test_goaway_after_max_requests_per_connection(self):
        conn = H2(self.daemon.port)
        for _ in range(3):
            self.assertEqual(conn.get("/")[0], 200)
        goaway = conn.wait_closed()
        self.assertIsNotNone(goaway)
        self.assertEqual(goaway.error_code, h.NO_ERROR)
        self.assertEqual(goaway.last_stream_id, 5)


class graceful_stop(unittest.TestCase):
    """RFC 9113 §6.8: a GOAWAY with the largest stream ID and a PING, then, once the PING's
    ACK is back, the GOAWAY with the last stream processed; what was begun is answered."""

    LARGEST_STREAM_ID = 2**31 - 1

    def setUp(self):
        self.daemon = h.Daemon(sleep="1s", limits='header_timeout = "1s"')

    def tearDown(self):
        self.daemon.stop()

    def test_streams_begun_before_the_client_read_the_notice_are_answered(self):
        conn = H2(self.daemon.port)
        self.addCleanup(conn.close)
        sleeping = conn.request("/sleep")
        # A PING round trip proves the server has read the HEADERS sent before it.
        conn.send_frame(hf.PingFrame(0, opaque_data=b"inflight"))
        conn.wait_for(lambda f: isinstance(f, hf.PingFrame) and "ACK" in f.flags)
        self.daemon.proc.send_signal(signal.SIGTERM)
        notice = conn.wait_for_goaway()
        self.assertEqual(notice.error_code, h.NO_ERROR)
        self.assertEqual(notice.last_stream_id, self.LARGEST_STREAM_ID)
        # Sent before the PING behind the notice is read, and so before its ACK: as if this
        # request and the notice had crossed on the way.
        crossed = conn.request("/")
        for stream in (sleeping, crossed):
            status, _, body = conn.response(stream)
            self.assertEqual((status, body), (200, h.hello_page()), stream)
        last = conn.wait_closed()
        self.assertEqual(last.error_code, h.NO_ERROR)
        self.assertEqual(last.last_stream_id, crossed)
        self.assertEqual(self.daemon.proc.wait(timeout=10), 0)

    def first_request_is_answered_through_the_drain(self, tls):
        conn = H2(self.daemon.tls_port if tls else self.daemon.port, tls=tls)
        self.addCleanup(conn.close)
        # The server has read the preface: the connection is in its HTTP/2 loop.
        conn.wait_for(lambda f: isinstance(f, hf.SettingsFrame) and "ACK" in f.flags)
        self.daemon.begin_drain()
        # No GOAWAY may come before the first stream: a client that has read one opens none,
        # and curl 7.88 then fails its request instead of retrying it on a new connection.
        conn.send_frame(hf.PingFrame(0, opaque_data=b"draining"))
        conn.wait_for(lambda f: isinstance(f, hf.PingFrame) and "ACK" in f.flags)
        self.assertIsNone(conn.goaway)
        status, _, body = conn.get("/", scheme="https" if tls else "http")
        self.assertEqual((status, body), (200, h.hello_page()))
        last = conn.wait_closed()
        self.assertEqual(last.error_code, h.NO_ERROR)
        self.assertEqual(last.last_stream_id, 1)
        self.assertEqual(self.daemon.proc.wait(timeout=10), 0)

    def test_a_connection_opened_before_the_stop_has_its_first_request_answered(self):
        self.first_request_is_answered_through_the_drain(tls=False)

    def test_a_connection_opened_before_the_stop_has_its_first_request_answered_over_tls(self):
        self.first_request_is_answered_through_the_drain(tls=True)

    def test_a_first_request_that_never_comes_is_waited_for_header_timeout_at_most(self):
        conn = H2(self.daemon.port)
        self.addCleanup(conn.close)
        conn.wait_for(lambda f: isinstance(f, hf.SettingsFrame) and "ACK" in f.flags)
        opened = time.monotonic()
        self.daemon.begin_drain()
        last = conn.wait_closed(timeout=5)
        self.assertLessEqual(time.monotonic() - opened, 1.6)
        self.assertEqual(last.error_code, h.NO_ERROR)
        self.assertEqual(last.additional_data, b"header_timeout")
        self.assertEqual(self.daemon.proc.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main()
