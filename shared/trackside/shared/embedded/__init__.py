"""The embedded single-machine default: backing servers from PyPI started as child processes.

Used by ``make run`` (:mod:`.launcher`) and by the integration tests; production points the services at
real MongoDB, Elasticsearch and Redis through ``hosts.conf`` instead.
"""
