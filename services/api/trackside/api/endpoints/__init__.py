"""Request handling, one module per service family (the reference's "services").

Each module declares a marshmallow schema and a handler per endpoint with :func:`trackside.api.registry.endpoint`;
importing this package registers them all. To add an endpoint, see ARCHITECTURE.md.
"""
from trackside.api.endpoints import auth, debug, models, projects, queues, server, tasks, users  # noqa: F401
from trackside.api.endpoints import events  # noqa: F401
from trackside.api.endpoints import workers  # noqa: F401
from trackside.api.endpoints import claims  # noqa: F401
from trackside.api.endpoints import organization, pipelines, reports, serving, storage  # noqa: F401
from trackside.api.endpoints import public_objects  # noqa: F401
from trackside.api.endpoints import webhooks  # noqa: F401
from trackside.api.endpoints import apps  # noqa: F401
