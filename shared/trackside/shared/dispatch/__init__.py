"""Dispatch by subscription: agents block on Redis streams of wake-up tokens and claim work through the API.

MongoDB holds the truth (queue entries, leases); Redis only says "look at queue X" (ARCHITECTURE.md,
"Dispatch design"). Modules:

- ``keys``, ``settings``, ``acl``: names, settings and Redis ACL rules shared by both sides;
- ``subscriber``, ``client``: the agent side, importable with only ``redis`` installed;
- ``tokens``: the token streams as the server writes and repairs them (Redis);
- ``entries``, ``leases``, ``reconcile``: the server side on MongoDB (needs pymongo).

Nothing is imported here, so an agent never pulls in the server side.
"""
