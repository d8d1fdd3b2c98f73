"""The deadline policy as data: ``default.toml`` holds the plan's figures and
``loader`` reads a bank's own file into ``contracts.policy.ResolvedPolicy``."""
