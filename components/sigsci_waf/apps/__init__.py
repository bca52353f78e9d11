"""The app shape: an app behind the agent as a reverse proxy (owned, patch, service placements)."""
