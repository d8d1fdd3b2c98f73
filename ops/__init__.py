"""Operations on a running cluster: the report schedules."""
