"""Every kind of answer is the same over HTTP/2 as over HTTP/1.1: status, header fields (less
Date and the connection-specific ones) and body bytes, over TLS (h2 against HTTP/1.1 with TLS)
and in the clear (h2c against plain HTTP/1.1)."""

import re
import time
import unittest

import harness as h
from harness import H2

# (method, path, extra fields): one row per kind of answer.
REQUESTS = [
    ("GET", "/", []),
    ("HEAD", "/", []),
    ("GET", "/nope", []),
    ("GET", "/sleep", []),
    ("GET", "/cached", []),
    ("GET", "/", [("if-none-match", "*")]),
    ("HEAD", "/", [("if-none-match", "*")]),
    ("GET", "/", [("if-unmodified-since", "Thu, 01 Jan 1970 00:00:00 GMT")]),
    ("GET", "/", [("if-match", '"no-such-tag"')]),
    ("GET", "/files/big.bin", []),
    ("HEAD", "/files/big.bin", []),
    ("GET", "/files/big.bin", [("range", "bytes=0-9")]),
    ("GET", "/files/big.bin", [("range", "bytes=-100")]),
    ("GET", "/files/big.bin", [("range", "bytes=10-20,100000-200000,3000000-")]),
    ("GET", "/files/big.bin", [("range", "bytes=99999999-")]),
    ("GET", "/files/big.bin", [("range", "lines=1-2")]),
    ("GET", "/files/hello.html", [("range", "bytes=0-5,10-15")]),
    ("GET", "/files/style.css", [("accept-encoding", "gzip")]),
    ("GET", "/files/style.css", [("accept-encoding", "br;q=1, identity;q=0.5")]),
    ("GET", "/files/style.css", []),
    ("GET", "/files/sub/", []),
    ("GET", "/files/sub", []),
    ("GET", "/files/hello.html?x=1", []),
    ("GET", "/files/%68ello.html", []),
    ("GET", "/files/../../../etc/passwd", []),
    ("GET", "/files/%2e%2e/%2e%2e/etc/passwd", []),
    ("GET", "/files/nothing-here", []),
    ("OPTIONS", "/", []),
    ("OPTIONS", "*", []),
    ("POST", "/", []),
    ("DELETE", "/files/hello.html", []),
    ("BREW", "/", []),
    ("GET", "/", [("expect", "something-else")]),
]

# Sent by one protocol only, by design: the date moves, and HTTP/2 has no connection fields.
NOT_COMPARED = {"date", "connection", "keep-alive"}


def normalise(status, fields, body):
    """Multipart boundaries are random per response: replace them with one word."""
    fields = sorted((n, v) for n, v in fields if n not in NOT_COMPARED)
    content_type = dict(fields).get("content-type", "")
    match = re.search(r"boundary=(\S+)", content_type)
    if match:
        boundary = match.group(1)
        fields = [(n, v.replace(boundary, "BOUNDARY")) for n, v in fields]
        body = body.replace(boundary.encode(), b"BOUNDARY")
    return status, fields, body


def http1_request(method, path, extra):
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost"]
    lines += [f"{n}: {v}" for n, v in extra]
    if method == "POST":
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class same_answers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = h.Daemon(server='', extra='', sleep="1s")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def compare(self, tls):
        port = self.daemon.tls_port if tls else self.daemon.port
        conn = H2(port, tls=tls)
        scheme = "https" if tls else "http"
        for method, path, extra in REQUESTS:
            with self.subTest(method=method, path=path, extra=extra, tls=tls):
                one = normalise(*h.http1(port, http1_request(method, path, extra), tls=tls))
                stream = conn.request(path, method=method, extra=extra, scheme=scheme)
                two = normalise(*conn.response(stream))
                self.assertEqual(one[0], two[0], "status")
                self.assertEqual(one[1], two[1], "header fields")
                self.assertEqual(len(one[2]), len(two[2]), "body length")
                self.assertTrue(one[2] == two[2], "body bytes differ")
        conn.close()

    def test_over_tls(self):
        self.compare(tls=True)

    def test_in_the_clear(self):
        self.compare(tls=False)

    def test_hsts_and_no_connection_fields_over_h2(self):
        daemon = h.Daemon(extra='', server='')
        try:
            conn = H2(daemon.tls_port, tls=True)
            _, fields, _ = conn.get("/", scheme="https")
            names = [n for n, _ in fields]
            self.assertNotIn("connection", names)
            self.assertNotIn("keep-alive", names)
            self.assertNotIn("transfer-encoding", names)
            conn.close()
        finally:
            daemon.stop()

    def test_hundred_sleeping_streams_on_one_connection_finish_together(self):
        conn = H2(self.daemon.port)
        started = time.monotonic()
        streams = [conn.request("/sleep") for _ in range(100)]
        for stream in streams:
            status, _, body = conn.response(stream)
            self.assertEqual(status, 200)
            self.assertEqual(body, h.hello_page())
        elapsed = time.monotonic() - started
        # The delay is 1 s here: all hundred wait it out side by side.
        self.assertGreaterEqual(elapsed, 1.0)
        self.assertLess(elapsed, 2.0)
        conn.close()

    def test_a_stalled_stream_does_not_hold_up_another(self):
        # Every stream starts with a window of 0: the big file's stream stays stalled while
        # the page's stream gets its window, and its answer.
        from hyperframe import frame as hf
        conn = H2(self.daemon.port, settings={hf.SettingsFrame.INITIAL_WINDOW_SIZE: 0})
        stalled = conn.request("/files/big.bin")
        page = conn.request("/")
        conn.send_frame(hf.WindowUpdateFrame(page, 65535))
        status, _, body = conn.response(page)
        self.assertEqual(status, 200)
        self.assertEqual(len(body), len(h.hello_page()))
        conn.send_frame(hf.WindowUpdateFrame(stalled, 2**31 - 1 - 65535))
        status, _, body = conn.response(stalled)
        self.assertEqual(body, self.daemon.file("big.bin"))
        conn.close()

    def test_reload_keeps_open_connections_answering(self):
        import signal
        conn = H2(self.daemon.port)
        self.assertEqual(conn.get("/")[0], 200)
        start = len(self.daemon.lines)
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.daemon.wait_for_log(r"reload", start=start)
        self.assertEqual(conn.get("/")[0], 200)
        conn.close()


if __name__ == "__main__":
    unittest.main()
