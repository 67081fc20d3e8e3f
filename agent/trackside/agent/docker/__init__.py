"""Docker mode: each task in a container of its image (``daemon --docker``, ``execute --docker``).

Modules: ``spec`` (which container a task gets), ``arguments`` (docker CLI arguments as docker-py
keywords), ``mounts`` (caches and SSH, host-path translation), ``agent_install`` (this agent's own wheels
and the container's bootstrap script), ``container`` (the engine API), ``launch`` (a task's run in a
container, from the outside).
"""
