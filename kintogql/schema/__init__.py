"""The GraphQL API (``/v1/graphql``): Strawberry types over the shared resolvers."""
