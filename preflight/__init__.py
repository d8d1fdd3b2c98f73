"""Checks made before a process takes work: every file the environment names."""
