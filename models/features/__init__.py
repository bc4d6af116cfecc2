"""Feature spec with a streaming (serving) and a batch (training) implementation."""
