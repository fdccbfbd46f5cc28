"""WSGI entry point for the reference Kinto used by the benchmarks.

Served by granian (``granian --interface wsgi benchmarks.kinto_wsgi:application``) or gunicorn.
The ini file defaults to ``benchmarks/kinto.ini``; override with ``KINTO_INI``.
"""

import logging.config
import os

from pyramid.paster import get_app, setup_logging

_HERE = os.path.dirname(os.path.abspath(__file__))
ini_path = os.environ.get("KINTO_INI", os.path.join(_HERE, "kinto.ini"))
os.environ["KINTO_INI"] = ini_path  # kinto.config reads it back for the root "config" info

try:
    setup_logging(ini_path)
except Exception:  # pragma: no cover - logging sections are optional
    logging.basicConfig(level=logging.WARNING)

application = get_app(ini_path, "main")
