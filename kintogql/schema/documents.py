"""Parsed and validated documents, cached per query text.

Parsing and validating the same query text gives the same document and the same errors
every time: validation depends on the schema and on the protection limits (both fixed
for one schema), never on variables, the operation name or the caller. Without a cache,
validation alone costs as much as executing a 50-record page, and Strawberry's limiter
extensions build new rule classes on every request. Everything that does depend on the
request (the allowed operation types, variables, permissions) still runs every time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from graphql import ASTValidationRule, DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension

MAX_ENTRIES = 256
MAX_CHARACTERS = 256 * 1024
"""Bounds of one cache. A parsed document takes ~100-150 bytes per character of query
text, so a cache holds at most a few tens of MB however many distinct texts arrive."""


@dataclass(frozen=True)
class CachedDocument:
    document: DocumentNode
    errors: tuple[GraphQLError, ...]
    """Validation errors: empty for a valid document."""


class DocumentCache:
    """A bounded LRU of ``CachedDocument`` by query text, for one schema and one set of
    limits: ``rules`` (validation rules added to graphql-core's) and ``max_tokens``."""

    def __init__(
        self,
        rules: tuple[type[ASTValidationRule], ...] = (),
        max_tokens: int | None = None,
        *,
        max_entries: int = MAX_ENTRIES,
        max_characters: int = MAX_CHARACTERS,
    ) -> None:
        self.rules = rules
        self.max_tokens = max_tokens
        self.max_entries = max_entries
        self.max_characters = max_characters
        self._entries: OrderedDict[str, CachedDocument] = OrderedDict()
        self._characters = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, query: str) -> CachedDocument | None:
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
        return entry

    def put(self, query: str, document: DocumentNode, errors: list[GraphQLError]) -> None:
        if len(query) > self.max_characters // 4 or query in self._entries:
            return
        self._entries[query] = CachedDocument(document, tuple(errors))
        self._characters += len(query)
        while len(self._entries) > self.max_entries or self._characters > self.max_characters:
            evicted, _ = self._entries.popitem(last=False)
            self._characters -= len(evicted)


class CachedDocuments(SchemaExtension):
    """Applies the limits of ``cache`` (tokens while parsing, rules at validation) and
    skips both steps for a query text already seen. A text refused while parsing (e.g.
    over the token limit) is never cached: it is parsed, and refused, every time."""

    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache
        self._hit: CachedDocument | None = None
        self._parsed_here = False

    def on_operation(self) -> Iterator[None]:
        execution = self.execution_context
        if self.cache.max_tokens is not None:
            execution.parse_options["max_tokens"] = self.cache.max_tokens
        execution.validation_rules = (*execution.validation_rules, *self.cache.rules)
        yield

    def on_parse(self) -> Iterator[None]:
        execution = self.execution_context
        # A document handed in by the caller is not ours to key by the text.
        self._parsed_here = execution.graphql_document is None and bool(execution.query)
        if self._parsed_here and execution.query:
            self._hit = self.cache.get(execution.query)
            if self._hit is not None:
                execution.graphql_document = self._hit.document
        yield

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        if self._hit is not None:
            # A fresh list: later steps may replace or extend a result's errors.
            execution.pre_execution_errors = list(self._hit.errors)
            yield
            return
        yield
        document, errors = execution.graphql_document, execution.pre_execution_errors
        if self._parsed_here and execution.query and document is not None and errors is not None:
            self.cache.put(execution.query, document, errors)
