"""Staff documentation generated from the code: the flow charts (R7.1) and the
reference part of the operations guide. ``tests/test_docs_gen.py`` fails when a
committed file differs from what these modules generate."""
