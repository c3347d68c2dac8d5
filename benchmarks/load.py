"""A small keep-alive HTTP/1.1 load client, for machines without ``wrk``.

    python -m benchmarks.load http://127.0.0.1:8000/login --connections 32 --duration 10

Runs as its own process (the benchmark starts it so), so that its CPU is not the measuring
process's. Each connection sends ``GET`` requests one after another and reads each answer
(status line, headers, ``Content-Length`` body) before the next; nothing else is parsed, so
that the client costs far less per request than the server it loads. Prints one JSON line:
``{"requests", "non_2xx", "seconds", "requests_per_second"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


async def _connection(
    host: str, port: int, request: bytes, deadline: float, counts: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.monotonic() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            counts[0] += 1
            if not 200 <= status < 300:
                counts[1] += 1
    finally:
        writer.close()


async def run(url: str, connections: int, duration: float) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    counts = [0, 0]
    started = time.monotonic()
    deadline = started + duration
    await asyncio.gather(
        *(_connection(host, port, request, deadline, counts) for _ in range(connections))
    )
    seconds = time.monotonic() - started
    return {
        "requests": counts[0],
        "non_2xx": counts[1],
        "seconds": seconds,
        "requests_per_second": counts[0] / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.url, args.connections, args.duration))))


if __name__ == "__main__":
    main()
