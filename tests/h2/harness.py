"""The daemon as a child process, and HTTP/2 and HTTP/1.1 clients that speak frame by frame
over real sockets: what the HTTP/2 tests share.

The daemon binary comes from $HELLO_ASYNC_BINARY (CTest sets it), the pages from the
repository's www/. Every wait is for a condition (a log line, a frame, a closed socket) with
a deadline, never a fixed sleep.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import hpack
from hyperframe import frame as hf

BINARY = os.environ.get("HELLO_ASYNC_BINARY", "")
SOURCE_DIR = os.environ.get(
    "HELLO_ASYNC_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
WWW = os.path.join(SOURCE_DIR, "www")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# RFC 9113 §7 error codes.
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
ENHANCE_YOUR_CALM = 0xB

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Daemon:
    """hello-async with a test config: a plain and a TLS socket on loopback, h2c on."""

    def __init__(self, *, limits="", server="", http2="cleartext = true", extra="",
                 sleep="1s", threads=1):
        self.dir = tempfile.mkdtemp(prefix="hello-async-h2-")
        self._make_certificate()
        self._make_files()
        config = f"""
[server]
listen = ["127.0.0.1:0"]
root = "{WWW}"
threads = {threads}
log_target = "stderr"
{server}

[tls]
listen = ["127.0.0.1:0"]

[[tls.certificate]]
chain = "{self.dir}/cert.pem"
key = "{self.dir}/key.pem"

[http2]
{http2}

[limits]
{limits}

[[route]]
path = "/"
file = "hello.html"

[[route]]
path = "/sleep"
file = "hello.html"
delay = "{sleep}"

[[route]]
path = "/cached"
file = "hello.html"
cache_control = "max-age=3600"

[[static]]
prefix = "/files/"
dir = "{self.dir}/files"

[errors]
404 = "404.html"

{extra}
"""
        self.config = os.path.join(self.dir, "site.toml")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(config)
        self.lines = []
        self._lines_changed = threading.Condition()
        self.proc = subprocess.Popen([BINARY, "--config", self.config],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        threading.Thread(target=self._collect, daemon=True).start()
        line = self.wait_for_log(r"listening on ")
        ports = re.findall(r"127\.0\.0\.1:(\d+)", line)
        self.port, self.tls_port = int(ports[0]), int(ports[1])

    def _make_certificate(self):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", f"{self.dir}/key.pem", "-out", f"{self.dir}/cert.pem",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-days", "2"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _make_files(self):
        files = os.path.join(self.dir, "files")
        os.makedirs(os.path.join(files, "sub"))
        # Bytes that differ at every offset, so that a misplaced range shows.
        big = bytes((i * 7 + i // 251) % 256 for i in range(3 * 1024 * 1024 + 123))
        with open(os.path.join(files, "big.bin"), "wb") as f:
            f.write(big)
        with open(os.path.join(files, "style.css"), "w", encoding="utf-8") as f:
            f.write("body { color: #333; }\n" * 40)
        with open(os.path.join(files, "style.css.gz"), "wb") as f:
            f.write(b"\x1f\x8b" + b"pretend gzip" * 10)
        with open(os.path.join(files, "sub", "index.html"), "w", encoding="utf-8") as f:
            f.write("<p>index</p>\n")
        shutil.copy(os.path.join(WWW, "hello.html"), os.path.join(files, "hello.html"))

    def file(self, name):
        with open(os.path.join(self.dir, "files", name), "rb") as f:
            return f.read()

    def _collect(self):
        for raw in self.proc.stderr:
            with self._lines_changed:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._lines_changed.notify_all()

    def wait_for_log(self, pattern, timeout=10.0, start=0):
        """The first log line from `start` on that matches `pattern`."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        with self._lines_changed:
            while True:
                for line in self.lines[start:]:
                    if regex.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no log line matching {pattern!r}; log:\n" +
                                         "\n".join(self.lines[-30:]))
                self._lines_changed.wait(left)

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def alive(self):
        return self.proc.poll() is None

    def begin_drain(self, timeout=10.0):
        """SIGTERM, then waits until every I/O thread has begun the drain: each closes its
        listening sockets in the step that wakes its idle connections."""
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=timeout).close()
            except (ConnectionRefusedError, ConnectionResetError):
                # Reset: the listener closed with this connection still in its backlog.
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"still accepting connections {timeout} s after SIGTERM")
            time.sleep(0.01)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode


def connect(port, *, tls=False, alpn=("h2",)):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not tls:
        return sock
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(list(alpn))
    return context.wrap_socket(sock, server_hostname="localhost")


class Closed(Exception):
    """The server closed the connection."""


class H2:
    """An HTTP/2 client connection driven frame by frame, so that tests can send what no
    well-behaved client would."""

    def __init__(self, port, *, tls=False, settings=None, preface=True):
        self.sock = connect(port, tls=tls)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.decoder.max_allowed_table_size = 65536
        self.buffer = b""
        self.server_settings = {}
        self.goaway = None
        self.answers = {}  # stream -> what has come of its answer so far
        self.next_stream = 1
        if preface:
            self.send(PREFACE)
            self.send_frame(hf.SettingsFrame(0, settings=settings or {}))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, frame):
        self.send(frame.serialize())

    def new_stream(self):
        stream = self.next_stream
        self.next_stream += 2
        return stream

    def block(self, fields):
        return self.encoder.encode(fields)

    def headers(self, stream, fields, *, end_stream=True, end_headers=True, raw_block=None):
        frame = hf.HeadersFrame(stream)
        frame.data = raw_block if raw_block is not None else self.block(fields)
        if end_stream:
            frame.flags.add("END_STREAM")
        if end_headers:
            frame.flags.add("END_HEADERS")
        self.send_frame(frame)

    def request(self, path, method="GET", extra=(), authority="localhost", end_stream=True,
                scheme="http"):
        stream = self.new_stream()
        fields = [(":method", method), (":scheme", scheme), (":authority", authority),
                  (":path", path)] + list(extra)
        self.headers(stream, fields, end_stream=end_stream)
        return stream

    def _read_exactly(self, n, deadline):
        while len(self.buffer) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame from the server in time")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError, BrokenPipeError) as e:
                raise Closed(str(e)) from e
            if not chunk:
                raise Closed("EOF")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def next_frame(self, timeout=10.0):
        """The next frame from the server; SETTINGS are acknowledged and PINGs answered, as
        a client must."""
        deadline = time.monotonic() + timeout
        header = self._read_exactly(9, deadline)
        frame, length = hf.Frame.parse_frame_header(memoryview(header))
        payload = self._read_exactly(length, deadline) if length else b""
        frame.parse_body(memoryview(payload))
        if isinstance(frame, hf.SettingsFrame) and "ACK" not in frame.flags:
            self.server_settings.update(frame.settings)
            self.send_frame(hf.SettingsFrame(0, flags=["ACK"]))
        if isinstance(frame, hf.PingFrame) and "ACK" not in frame.flags:
            self.send_frame(hf.PingFrame(0, flags=["ACK"], opaque_data=frame.opaque_data))
        if isinstance(frame, hf.GoAwayFrame):
            self.goaway = frame
        return frame

    def wait_for(self, predicate, timeout=10.0):
        """Reads frames until one matches; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.next_frame(max(deadline - time.monotonic(), 0.001))
            if predicate(frame):
                return frame

    def wait_for_goaway(self, timeout=10.0):
        return self.wait_for(lambda f: isinstance(f, hf.GoAwayFrame), timeout)

    def wait_for_reset(self, stream, timeout=10.0):
        return self.wait_for(lambda f: isinstance(f, hf.RstStreamFrame) and
                             f.stream_id == stream, timeout)

    def wait_closed(self, timeout=10.0):
        """Reads until the server closes; the GOAWAY it sent, if any. Fails on timeout."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.next_frame(max(deadline - time.monotonic(), 0.001))
        except Closed:
            return self.goaway

    def response(self, stream, timeout=10.0):
        """(status, [(name, value)...], body) of a stream. Frames of other streams are kept
        for their own turn; windows are reopened as data comes, as a client does."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.answers.get(stream)
            if got and got["ended"]:
                del self.answers[stream]
                status = dict(got["fields"])[":status"]
                return (int(status), [f for f in got["fields"] if f[0] != ":status"],
                        got["body"])
            frame = self.next_frame(max(deadline - time.monotonic(), 0.001))
            if isinstance(frame, hf.RstStreamFrame) and frame.stream_id == stream:
                raise AssertionError(f"stream {stream} reset: {frame.error_code}")
            if isinstance(frame, hf.GoAwayFrame) and frame.error_code != NO_ERROR:
                raise AssertionError(f"GOAWAY {frame.error_code}: {frame.additional_data}")
            if frame.stream_id == 0:
                continue
            entry = self.answers.setdefault(frame.stream_id,
                                            {"fields": None, "body": b"", "ended": False})
            if isinstance(frame, (hf.HeadersFrame, hf.ContinuationFrame)):
                decoded = self.decoder.decode(frame.data)
                if entry["fields"] is None:
                    entry["fields"] = decoded
            if isinstance(frame, hf.DataFrame):
                entry["body"] += frame.data
                if frame.flow_controlled_length:
                    self.send_frame(hf.WindowUpdateFrame(0, frame.flow_controlled_length))
                    self.send_frame(hf.WindowUpdateFrame(frame.stream_id,
                                                         frame.flow_controlled_length))
            if "END_STREAM" in frame.flags:
                entry["ended"] = True

    def get(self, path, **kw):
        return self.response(self.request(path, **kw))


def http1(port, request, tls=False, timeout=10.0):
    """Sends one HTTP/1.1 request on a new connection; (status, [(name, value)...], body)
    with names in lower case. Reads the body by Content-Length (none for HEAD, 204, 304)."""
    sock = connect(port, tls=tls, alpn=("http/1.1",))
    sock.settimeout(timeout)
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise Closed("EOF before the head")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    fields = []
    for line in lines[1:]:
        name, value = line.split(":", 1)
        fields.append((name.strip().lower(), value.strip()))
    length = int(dict(fields).get("content-length", "0"))
    if request.startswith(b"HEAD ") or status in (204, 304):
        length = 0
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    sock.close()
    return status, fields, rest


def hello_page():
    with open(os.path.join(WWW, "hello.html"), "rb") as f:
        return f.read()
