"""Secrets are never recorded: a URL's user name, password and query (where credentials ride:
`http://user:token@host/v1`, `?key=...`) are replaced by `***` in every message, note, record and dump.

API keys come only from the environment (`api_key_env`); a credential given in a URL still works for the
request, but what is written or printed about it is `redact`ed: the config dumps and settings records
(`dump_config`), the dataset card, the manifest's notes and reasons, a stage's failure reasons, the warnings
and the CLI's error line.
"""

import re
from typing import Any

HIDDEN = "***"
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]*[^\s'\"<>`.,:;!?)\]]")
"""A URL in text, without the punctuation that may follow it ('see http://host/v1: refused')."""
_PARTS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?", re.S)


def redact_url(url: str) -> str:
    """`url` without its user information and query: `http://u:p@host/v1?key=k` -> `http://***@host/v1?***`."""
    match = _PARTS.fullmatch(url)
    if match is None:
        return url
    scheme, authority, path, query, fragment = match.groups()
    if "@" in authority:
        authority = f"{HIDDEN}@{authority.rpartition('@')[2]}"
    return scheme + authority + path + (f"?{HIDDEN}" if query else "") + (fragment or "")


def redact(text: str) -> str:
    """`text` with every URL in it redacted (see `redact_url`)."""
    return URL.sub(lambda m: redact_url(m.group(0)), text) if "://" in text else text


def redact_tree(value: Any) -> Any:
    """`value` (JSON-like: dicts, lists, strings, numbers) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(v) for v in value]
    return value
