"""Cluster plumbing: settings, wire format, ZeroMQ bus, supervisor, CLI, control API."""
