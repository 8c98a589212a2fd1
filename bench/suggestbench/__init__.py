"""bench/suggest: how well and how fast the ticket suggestions sort the labelled requests."""
