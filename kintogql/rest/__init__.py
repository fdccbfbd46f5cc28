"""The Kinto HTTP API 1.x over the shared resolvers."""
