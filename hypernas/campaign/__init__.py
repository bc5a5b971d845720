"""The background queue of long runs: its items, the supervisor that keeps workers on them, and its status."""
