"""The public-API tests of shm-comm 1.0.0 (see conftest.py)."""
