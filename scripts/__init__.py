"""qbert-rtl orchestration: the ``qbert`` CLI, sign-off, export, benchmarks."""
