"""Export the SDL: ``python -m kintogql.schema.export [path]`` (default: ./schema.graphql)."""

from __future__ import annotations

import sys
from pathlib import Path

from kintogql.schema.schema import build_schema

SDL_PATH = Path(__file__).resolve().parents[2] / "schema.graphql"


def sdl() -> str:
    return build_schema().as_str() + "\n"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else SDL_PATH
    path.write_text(sdl(), encoding="utf-8")


if __name__ == "__main__":
    main()
