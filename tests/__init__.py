"""The test suite: pytest-django against real PostgreSQL and Redis."""
