"""Every write in developers, by subject; import from the module you need.

- `api_keys`: creating, revoking, deleting keys, and noting their use.
- `webhook_endpoints`: customers' endpoints and their signing secrets.
- `webhook_deliveries`: events (the outbox), fair claims, signed attempts, resends, test events.
- `request_log`: the /v1 request log: recording (through a Redis buffer), flushing, purging.
"""
