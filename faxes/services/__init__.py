"""Every write to faxes, split by stage; import from the module you need.

- `intake`: accepting a send (the sender's number, the document, the Idempotency-Key).
- `pipeline`: starting a fax, fetching a URL document, submitting to the carrier once.
- `carrier_events`: applying Telnyx's, the simulator's and polled events.
- `cancel`: canceling a fax at once, or at the carrier once it has it.
- `redial`: queuing a fax for another call after a busy line, and sending it when due.
- `sweeper`: restarting lost steps, failing stalled faxes, polling silent ones.
- `documents`: downloading a stored document (audited), deleting it, the retention purge.
- `status`: moving a fax forward, with its history and its customer event (used by all).
"""
