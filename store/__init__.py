"""The SQL register: tables, engines, migrations and data-access functions.

The workflow owns every case; these tables are projections written idempotently by
activities (docs/architecture.md, rule 2) and read by the API and the reports. Import the modules
you need (``store.db``, ``store.cases``, ``store.migrate``, ...): this package
imports nothing itself, so loading the register does not load Alembic.
"""
