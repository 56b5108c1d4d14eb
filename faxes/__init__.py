"""Faxes and their events: /v1/faxes, the carrier client and webhook, and the pipeline tasks."""
