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
    def test_sigterm_sends_goaway_and_finishes_open_streams(self):
        daemon = h.Daemon(sleep="1s")
        try:
            conn = H2(daemon.port)
            stream = conn.request("/sleep")
            # A PING round trip proves the server has read the HEADERS sent before it.
            conn.send_frame(hf.PingFrame(0, opaque_data=b"inflight"))
            conn.wait_for(lambda f: isinstance(f, hf.PingFrame) and "ACK" in f.flags)
            daemon.proc.send_signal(signal.SIGTERM)
            goaway = conn.wait_for_goaway()
            self.assertEqual(goaway.error_code, h.NO_ERROR)
            self.assertEqual(goaway.last_stream_id, stream)
            status, _, body = conn.response(stream)
            self.assertEqual(status, 200)
            self.assertEqual(body, h.hello_page())
            conn.wait_closed()
            self.assertEqual(daemon.proc.wait(timeout=10), 0)
        finally:
            daemon.stop()


if __name__ == "__main__":
    unittest.main()
