"""Secrets kept out of logs and messages: the password of a URL masked wherever it is shown."""

from __future__ import annotations

import re

# user:password@ up to the last @ of the authority (a password may hold a raw @), or ?password=/token=
_SECRET_IN_NETLOC = re.compile(r"(?<=//)([^/?#@\s:]*):[^/?#\s]*@")
_SECRET_IN_QUERY = re.compile(
    r"((?:password|passwd|pwd|token|secret|access_key|api_key)[^=&\s]*=)[^&\s]*", re.IGNORECASE
)


def mask_uri(uri: str) -> str:
    """The URI with any password (user:password@ or ?password=/token=) replaced by ***."""
    return _SECRET_IN_QUERY.sub(r"\1***", _SECRET_IN_NETLOC.sub(r"\1:***@", uri))


def scrub(text: str, uri: str) -> str:
    """An error message safe to log: the raw URI and any embedded secret masked."""
    return mask_uri(text.replace(uri, mask_uri(uri)))
