#!/usr/bin/env python3
"""A local SMTP sink for scripts/multi-instance: accepts every message and
records it, one JSON line each, before it answers 250 to the end of DATA.

    smtp_sink.py --port PORT --out FILE

Speaks just enough SMTP (RFC 5321) for lettre's client: HELO/EHLO, MAIL,
RCPT, DATA (with dot-unstuffing), RSET, NOOP, QUIT. Standard library only.
Each line of FILE: {"at", "message_id", "from", "to", "subject", "bytes"}.
A SIGTERM stops it at once (open conversations are cut, as a crashed relay
would cut them).
"""
import argparse
import asyncio
import json
import os
import signal
import time
from email.parser import BytesHeaderParser


class Conversation:
    def __init__(self, out, reader, writer):
        self.out = out
        self.reader = reader
        self.writer = writer
        self.reset()

    def reset(self):
        self.mail_from = None
        self.rcpt = []

    async def reply(self, text):
        self.writer.write(text.encode() + b"\r\n")
        await self.writer.drain()

    async def data(self):
        lines = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("the client left during DATA")
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b".."):
                line = line[1:]
            lines.append(line)
        raw = b"".join(lines)
        headers = BytesHeaderParser().parsebytes(raw)
        record = {
            "at": time.time(),
            "message_id": (headers.get("Message-ID") or "").strip(),
            "from": self.mail_from,
            "to": list(self.rcpt),
            "subject": str(headers.get("Subject") or "").strip(),
            "bytes": len(raw),
        }
        # Recorded (and flushed to the OS) before the 250: whatever the
        # client hears accepted is in the file.
        with open(self.out, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.reset()
        await self.reply("250 2.0.0 OK: queued")

    async def run(self):
        await self.reply("220 localhost needlewise-test-sink ESMTP")
        while True:
            line = await self.reader.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = text[:4].upper()
            arg = text[5:] if len(text) > 4 else ""
            if verb == "EHLO":
                await self.reply("250-localhost greets you\r\n250 8BITMIME")
            elif verb == "HELO":
                await self.reply("250 localhost")
            elif verb == "MAIL":
                self.reset()
                self.mail_from = arg.split(":", 1)[-1].strip().split(" ")[0].strip("<>")
                await self.reply("250 2.1.0 OK")
            elif verb == "RCPT":
                if self.mail_from is None:
                    await self.reply("503 5.5.1 MAIL first")
                    continue
                self.rcpt.append(arg.split(":", 1)[-1].strip().split(" ")[0].strip("<>"))
                await self.reply("250 2.1.5 OK")
            elif verb == "DATA":
                if not self.rcpt:
                    await self.reply("503 5.5.1 RCPT first")
                    continue
                await self.reply("354 End data with <CR><LF>.<CR><LF>")
                await self.data()
            elif verb == "RSET":
                self.reset()
                await self.reply("250 2.0.0 OK")
            elif verb == "NOOP":
                await self.reply("250 2.0.0 OK")
            elif verb == "QUIT":
                await self.reply("221 2.0.0 Bye")
                return
            else:
                await self.reply("502 5.5.2 Command not implemented")


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    async def handle(reader, writer):
        try:
            await Conversation(args.out, reader, writer).run()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", args.port, reuse_address=True)
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with server:
        await stop


if __name__ == "__main__":
    asyncio.run(main())
