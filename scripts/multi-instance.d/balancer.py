#!/usr/bin/env python3
"""A round-robin TCP balancer for scripts/multi-instance.

    balancer.py --port PORT --backend 127.0.0.1:A --backend 127.0.0.1:B

Each new connection goes to the next backend in turn; a backend that
refuses the connection (a killed instance) is skipped for the next one, so
the client sees an error only when every backend is down. Bytes are copied
both ways until either side closes. Standard library only.
"""
import argparse
import asyncio
import itertools


async def pipe(reader, writer):
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--backend", action="append", required=True)
    args = ap.parse_args()
    backends = [(h, int(p)) for h, p in (b.rsplit(":", 1) for b in args.backend)]
    turn = itertools.cycle(range(len(backends)))

    async def handle(creader, cwriter):
        first = next(turn)
        upstream = None
        for k in range(len(backends)):
            host, port = backends[(first + k) % len(backends)]
            try:
                upstream = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
                break
            except (OSError, asyncio.TimeoutError):
                continue
        if upstream is None:
            cwriter.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            try:
                await cwriter.drain()
            except (ConnectionError, OSError):
                pass
            cwriter.close()
            return
        ureader, uwriter = upstream
        await asyncio.gather(pipe(creader, uwriter), pipe(ureader, cwriter))

    server = await asyncio.start_server(handle, "127.0.0.1", args.port, reuse_address=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
