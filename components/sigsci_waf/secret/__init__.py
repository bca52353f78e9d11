"""The agent keys: SigsciSecret."""
