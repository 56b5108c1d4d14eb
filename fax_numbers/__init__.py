"""Fax numbers provisioned on accounts, and GET /v1/numbers."""
