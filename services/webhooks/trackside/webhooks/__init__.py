"""Trackside webhooks service: signed webhook deliveries from the domain events, and server-side UI actions.

- ``trackside-webhooks`` (``main.serve``): reads the domain-events stream in a consumer group, writes one
  delivery per matching webhook and enqueues its RQ job (``consumer``); re-enqueues open deliveries whose job
  was lost (``sweeper``); answers health probes.
- ``trackside-webhooks worker``: an RQ worker with the scheduler; runs ``deliver.deliver`` (one attempt of
  one delivery, scheduling the next on failure) and ``actions.perform`` (a server-side UI action).
"""
