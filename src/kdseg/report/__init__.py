"""The results as tables and figures."""
