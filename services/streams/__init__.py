"""Venue websocket streams: the wire protocols (one module per venue), their endpoints, and the
runtime that keeps connections up (docs/streams.md). Qt-free, pandas-free."""
