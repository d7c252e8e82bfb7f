"""Verify psp's webhook deliveries in your receiver: ``psp.webhooks.verify(payload, headers, secret)``.

```python
from psp.webhooks import WebhookVerificationError, verify

try:
    verify(request.get_data(), request.headers, "whsec_...")  # the raw body, exactly as received
except WebhookVerificationError:
    return "", 400
event = json.loads(request.get_data())
if already_processed(request.headers["webhook-id"]):  # the same id on every retry: dedupe on it
    return "", 200
```
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from psp.domain.webhooks import DEFAULT_TOLERANCE_SECONDS, WebhookVerificationError, sign, verify_signature

__all__ = ["WebhookVerificationError", "sign", "verify"]


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bytes:
    """Return the payload if a signature in ``webhook-signature`` is the secret's and the timestamp is
    within ``tolerance`` seconds of now; otherwise raise ``WebhookVerificationError`` (forged, altered,
    stale or replayed). Pure: no I/O beyond reading the clock; comparisons are constant-time."""
    return verify_signature(payload, headers, secret, tolerance, time.time())
