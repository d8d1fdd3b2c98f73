"""The contracts every layer shares: enumerations, the messages of the workflows,
updates, signals and activities, the activity names, and the search-attribute keys.

This package imports nothing else of the project: it is the bottom of the one-way
dependency rule (``docs/architecture.md``).
"""
