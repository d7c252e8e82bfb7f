"""A tiny webhook receiver for ``psp dev --demo-webhook``: verifies each delivery, prints one line per event.

Run by the dev supervisor on a loopback port; the endpoint's secret arrives in ``DEMO_WEBHOOK_SECRET``.
It is also the smallest example of a merchant's receiver: verify the raw body, dedupe on ``webhook-id``,
answer 2xx quickly.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from psp.webhooks import WebhookVerificationError, verify

SECRET_VARIABLE = "DEMO_WEBHOOK_SECRET"  # noqa: S105  # the variable's name, not a secret  # nosec B105
MAX_BODY_BYTES = 1_000_000


def make_handler(secret: str) -> type[BaseHTTPRequestHandler]:
    seen: set[str] = set()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = min(int(self.headers.get("content-length") or 0), MAX_BODY_BYTES)
            body = self.rfile.read(length)
            try:
                verify(body, dict(self.headers.items()), secret)
            except WebhookVerificationError as error:
                print(f"[demo webhook] REJECTED: {error}", flush=True)
                self._answer(400)
                return
            message_id = self.headers["webhook-id"]
            with lock:
                duplicate = message_id in seen
                seen.add(message_id)
            event = json.loads(body)
            data = event["data"]["object"]
            note = " (duplicate, ignored)" if duplicate else ""
            print(
                f"[demo webhook] verified {event['type']} {data.get('object')} {data.get('id')} "
                f"v{data.get('version')}{note}",
                flush=True,
            )
            self._answer(200)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return  # one line per event is printed above; no access log

    return Handler


def main(argv: list[str]) -> int:
    port = int(argv[1])
    secret = os.environ[SECRET_VARIABLE]
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(secret))
    print(f"[demo webhook] listening on http://127.0.0.1:{port}/webhooks", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
