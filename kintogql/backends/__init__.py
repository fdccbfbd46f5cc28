"""Storage and pub/sub backends, chosen by URL scheme (see ``factory``)."""
