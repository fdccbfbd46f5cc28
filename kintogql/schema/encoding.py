"""The JSON body of a GraphQL HTTP response."""

from __future__ import annotations

import json

import orjson


def encode_response(data: object) -> bytes:
    """``data`` as compact UTF-8 JSON. orjson takes ~0.1 ms for a 1,000-record page where
    ``json.dumps`` (Strawberry's default) takes ~1.5 ms; the standard library remains the
    fallback for what orjson refuses (integers beyond 64 bits, from a record's data)."""
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(data, separators=(",", ":")).encode()
