"""Live websocket streams (docs/streams.md): venue protocols, connections, the hub."""
