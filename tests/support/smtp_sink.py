#!/usr/bin/python3
"""A real SMTP server for pufa's tests: aiosmtpd (Debian's python3-aiosmtpd) on
127.0.0.1:PORT that accepts every message and writes it to OUTDIR as one JSON file
(envelope recipients, the decoded headers the tests check, the plain and HTML parts, the
Unix time it arrived) next to
the raw message (.eml). Files appear atomically (written, then renamed).

    smtp_sink.py PORT OUTDIR [DELAY_SECONDS]

DELAY_SECONDS slows every DATA command down (a slow relay, for the crash test). Mail to a
recipient whose address starts with "bounce" is refused with 550 (no such mailbox). Prints
"ready" once it accepts connections, then serves until it is killed.
"""

import asyncio
import email
import email.header
import email.policy
import itertools
import json
import os
import sys
import threading
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, outdir, delay):
        self.outdir = outdir
        self.delay = delay
        self.counter = itertools.count()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        # a mailbox that does not exist, for the tests of permanent failures
        if any(r.startswith("bounce") for r in envelope.rcpt_tos):
            return "550 5.1.1 mailbox unavailable"
        if self.delay:
            await asyncio.sleep(self.delay)
        received_at = time.time()
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = {}
        for part in msg.walk():
            ctype = part.get_content_type()
            if ctype in ("text/plain", "text/html") and ctype not in parts:
                parts[ctype] = part.get_content()
        doc = {
            "received_at": received_at,
            "rcpt": list(envelope.rcpt_tos),
            "mail_from": envelope.mail_from,
            "subject": str(msg.get("Subject", "")),
            "message_id": str(msg.get("Message-ID", "")),
            "list_unsubscribe": str(msg.get("List-Unsubscribe", "")),
            "list_unsubscribe_post": str(msg.get("List-Unsubscribe-Post", "")),
            "from": str(msg.get("From", "")),
            "text": parts.get("text/plain", ""),
            "html": parts.get("text/html", ""),
        }
        with self.lock:
            n = next(self.counter)
        name = "%d-%06d" % (os.getpid(), n)
        with open(os.path.join(self.outdir, name + ".eml"), "wb") as f:
            f.write(raw)
        tmp = os.path.join(self.outdir, "." + name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
        os.rename(tmp, os.path.join(self.outdir, name + ".json"))
        return "250 OK"


def main():
    port = int(sys.argv[1])
    outdir = sys.argv[2]
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    os.makedirs(outdir, exist_ok=True)
    controller = Controller(Sink(outdir, delay), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
