"""Webhooks shared by the API (webhooks.* endpoints) and the webhooks service (services/webhooks).

- ``store``: collection names, indexes and delivery ids (the Standard Webhooks ``webhook-id``);
- ``targets``: the SSRF guard for user-made webhook URLs;
- ``templates``: payload templates (validated at creation, rendered per delivery);
- ``sealing``: webhook secrets, encrypted at rest with a key derived from ``secure.auth.token_secret``;
- ``signing``: the ``webhook-signature`` header;
- ``jobs``: how the API hands work to the RQ workers (by dotted job names: the API needs only ``rq``).
"""
