"""Django's PostgreSQL backend with a health check that costs no round trip and prepared
statements for the hottest reads. `ENGINE = "sendfaxmail.lib.postgresql"` (settings.py)."""
