from __future__ import annotations

from kintogql.schema.export import SDL_PATH, sdl


def test_the_exported_sdl_matches_the_schema():
    """Run ``python -m kintogql.schema.export`` after changing the schema."""
    assert SDL_PATH.read_text(encoding="utf-8") == sdl()


def test_the_sdl_documents_timestamps_as_decimal_strings():
    assert "Serialized as a decimal string" in sdl()
