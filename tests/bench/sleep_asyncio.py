#!/usr/bin/python3
"""Opens COUNT connections to a loopback server at once with plain asyncio streams, sends one
request on each, and reads every response; prints the figures sleep_clients prints.

usage: sleep_asyncio.py PORT COUNT [PATH] [TIMEOUT_SECONDS]

The way a Python service calls a slow endpoint: no pacing of the connects, the request written
as soon as its connection is up, Host and User-Agent as aiohttp would send them.
"""
import asyncio
import resource
import sys
import time


async def one_request(port, request, started):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = time.monotonic()
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    writer.close()
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head[:60].decode(errors="replace"))
    return sent - started, time.monotonic() - sent


async def main():
    port = int(sys.argv[1])
    count = int(sys.argv[2])
    path = sys.argv[3] if len(sys.argv) > 3 else "/sleep"
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 30
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               "User-Agent: Python/3 asyncio\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
               "Connection: close\r\n\r\n").encode()
    started = time.monotonic()
    tasks = [asyncio.create_task(one_request(port, request, started)) for _ in range(count)]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    finished = time.monotonic() - started
    for task in pending:
        task.cancel()
    results = [t.result() for t in done if not t.exception()]
    failures = [t.exception() for t in done if t.exception()]
    if failures:
        print(f"first failure: {failures[0]!r}", file=sys.stderr)
    connect_s = max((r[0] for r in results), default=0)
    slowest_ms = max((r[1] for r in results), default=0) * 1000
    print(f"connections={count} ok={len(results)} failed={len(failures)} "
          f"unanswered={len(pending)} connect_s={connect_s:.3f} last_response_s={finished:.3f} "
          f"slowest_ms={slowest_ms:.1f}")
    return 0 if len(results) == count else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
