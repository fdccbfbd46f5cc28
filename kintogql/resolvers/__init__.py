"""The operations both APIs call. They own every rule: permissions, preconditions,
timestamps, tombstones, validation, history, and publishing change events after commit."""
