"""Operations on a running cluster, idempotent: the crisis monitor and the report
schedules (``python -m ops.setup`` runs both)."""
