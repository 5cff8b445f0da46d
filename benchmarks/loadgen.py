"""A small HTTP/1.1 keep-alive load generator, the fallback when wrk is missing.

Raw asyncio streams, one request in flight per connection, no HTTP library:
parsing is a header split and a Content-Length read, so one core drives far
more requests than a Litestar app on the other core can answer. Prints one
JSON line with the same fields ``http_bench`` reads from wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import time
from urllib.parse import urlsplit

GET_IDS = 1000
POST_BODY = b'{"name":"bench","quantity":3}'


def _request(method: str, host: str) -> bytes:
    if method == "GET":
        return f"GET /items/{random.randint(1, GET_IDS)} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    return (
        f"POST /items HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(POST_BODY)}\r\n\r\n"
    ).encode() + POST_BODY


async def _worker(
    url: str, method: str, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    parts = urlsplit(url)
    host = parts.netloc
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        while time.perf_counter() < deadline:
            request = _request(method, host)
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 2"):
                errors[0] += 1
    finally:
        writer.close()


async def run(url: str, method: str, connections: int, duration: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = [0]
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(_worker(url, method, deadline, latencies, errors) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    count = len(latencies)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "requests": count,
        "duration_s": elapsed,
        "p50_ms": latencies[count // 2] * 1000 if count else 0.0,
        "p99_ms": latencies[min(count - 1, int(count * 0.99))] * 1000 if count else 0.0,
        "errors": errors[0],
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url", help="base URL, e.g. http://127.0.0.1:8001")
    parser.add_argument("--method", choices=["GET", "POST"], default="GET")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.method, args.connections, args.duration))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
