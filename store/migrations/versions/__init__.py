"""One module per schema revision, written by hand and reviewed like code."""
