"""Test helpers shared across test packages (real subprocesses, free ports)."""
