"""Helpers that know no app: ids, the /v1 error envelope, outbound HTTP, signing."""
