"""In-process backends: the embedded default, so ``kintogql serve`` works on a bare machine."""

from kintogql.backends.memory.pubsub import MemoryPubSub
from kintogql.backends.memory.storage import MemoryBackend, MemoryStorage

__all__ = ["MemoryBackend", "MemoryPubSub", "MemoryStorage"]
