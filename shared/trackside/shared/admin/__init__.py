"""``trackside-admin``: operations on an installed suite, configured like the services (``CLEARML_*``
variables and configuration folders, :mod:`trackside.shared.config.loader`).

- ``init-config``: the generated ``secure.conf`` (token secret, first admin credentials) when absent;
- ``backup`` / ``restore``: one tar archive of the MongoDB databases and the file server's folder;
- ``migrate``: the API's schema migrations, offline (the API applies them at start-up too).
"""
