"""Security headers on every response, errors and probes included.

The API answers JSON to programs; the one HTML page is ``/docs``, self-contained (no scripts, one
``<style>`` element whose hash its own Content-Security-Policy names). So the default policy allows
nothing at all, nothing may frame a response, no browser or proxy keeps one (they hold merchants' data),
and browsers must use HTTPS for the host from the first answer on.
"""

from __future__ import annotations

from typing import Final

from flask import Response

# Deny everything a document could load or do; JSON needs none of it.
API_CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS: Final = {
    # Two years, as the HSTS preload list asks; ignored by browsers over plain HTTP (local runs).
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": API_CONTENT_SECURITY_POLICY,
}


_BY_LOWER_NAME: Final = tuple((name.lower(), name, value) for name, value in SECURITY_HEADERS.items())


def add_security_headers(response: Response) -> None:
    """Add each header unless the view chose its own value (``/docs`` sets its own policy).

    The names already set are read once: a lookup per header scans the whole list, case-insensitively.
    """
    headers = response.headers
    present = {name.lower() for name, _ in headers}
    for lower_name, name, value in _BY_LOWER_NAME:
        if lower_name not in present:
            headers.add(name, value)
