"""Distributed: a sharded index, its writes, and ingest on a Ray cluster."""
