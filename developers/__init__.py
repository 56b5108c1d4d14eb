"""API keys, /v1 authentication, scopes and rate limits, the developer pages, customer webhooks."""
