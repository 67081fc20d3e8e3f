"""Everything a handler may need, built once per process by the app factory and found on ``call.app``."""
from __future__ import annotations

from pyhocon import ConfigTree

from trackside.api import db, migrations
from trackside.api.auth.service import AuthService
from trackside.api.bll.app_store import AppStore
from trackside.api.bll.apps import AppsBLL
from trackside.api.bll.events import EventsBLL
from trackside.api.bll.listing_watch import watched
from trackside.api.bll.models import ModelsBLL
from trackside.api.bll.organization import OrganizationBLL
from trackside.api.bll.pipelines import PipelinesBLL
from trackside.api.bll.projects import ProjectsBLL
from trackside.api.bll.queue_claims import QueueClaims, reconcile_at_startup
from trackside.api.bll.queue_metrics import QueueMetricsReader
from trackside.api.bll.queues import QueuesBLL
from trackside.api.bll.references import References
from trackside.api.bll.reports import ReportsBLL
from trackside.api.bll.serving import ServingBLL
from trackside.api.bll.tasks import TasksBLL
from trackside.api.bll.server_stats import ServerStats
from trackside.api.bll.storage_settings import StorageSettingsBLL
from trackside.api.bll.users import UsersBLL
from trackside.api.bll.ui_actions import UiActions
from trackside.api.bll.webhooks import WebhooksBLL
from trackside.api.bll.workers import WorkersBLL
from trackside.api.registry import parse_version
from trackside.shared import domain_events
from trackside.shared.revocation import RevokedSessions
from trackside.shared.storage import redis as redis_store
from trackside.shared.storage.mongo import connect, ensure_indexes


class AppServices:
    def __init__(self, config: ConfigTree):
        self.config = config
        self.max_version = parse_version(config.get("apiserver.max_api_version", "2.31"))
        self.check_max_version = config.get_bool("apiserver.check_max_version", False)
        self.company_id = config.get("apiserver.company.id")
        self.company_name = config.get("apiserver.company.name")

        # Writes to tasks and models keep the tag/user/metric/hyper-parameter listings' summaries honest.
        self.backend = watched(connect(config.get("hosts.mongo.backend.host")))
        self.auth_db = connect(config.get("hosts.mongo.auth.host"))
        # Connects lazily: only dispatch and the worker registry use it.
        self.redis = redis_store.connect(config.get_config("hosts.redis.apiserver"))
        # Domain events go out from a background thread with a client of its own (domain_events.py).
        domain_events.configure(config, lambda: redis_store.connect(
            config.get_config("hosts.redis.apiserver"), socket_timeout=5.0, socket_connect_timeout=2.0))

        api_version = config.get("apiserver.max_api_version", "2.31")
        self.auth = AuthService(config, self.auth_db, self.company_id, self.company_name, api_version,
                                RevokedSessions(redis_store.connect_failing_fast(config.get_config("hosts.redis.apiserver"))))
        self.users = UsersBLL(self.auth_db)
        self.references = References(self.backend, self.auth_db)
        self.server_stats = ServerStats(self.backend, self.auth_db)
        self.storage_settings = StorageSettingsBLL(self.backend, config)
        self.projects = ProjectsBLL(self.backend, config)
        self.organization = OrganizationBLL(self.backend, self.auth_db, self.redis, self.projects, config)
        self.models = ModelsBLL(self.backend, self.projects, self.references)
        self.queues = QueuesBLL(self.backend, config)
        self.queue_metrics = QueueMetricsReader(self.backend, config.get("services.queues.metrics_before_from_date", 3600))
        self.workers = WorkersBLL(self.redis, self.backend, config)
        self.events = EventsBLL(self.backend, config)
        self.tasks = TasksBLL(self.backend, self.projects, self.queues, self.models, self.events.store,
                              self.workers)
        self.claims = QueueClaims(self.queues, self.tasks.transitions, self.workers, config)
        self.reports = ReportsBLL(self.backend, self.projects, self.tasks, self.models, self.events, self.references)
        self.pipelines = PipelinesBLL(self.tasks, self.queues, self.workers)
        self.serving = ServingBLL(self.redis, self.backend, config)
        self.webhooks = WebhooksBLL(self.backend, self.redis, config)
        self.ui_actions = UiActions(self.backend, self.redis, config)
        self.apps = AppsBLL(AppStore(self.backend), self.tasks, self.projects, self.users)

    def initialize(self) -> None:
        """Idempotent start-up work: schema migrations, indexes, configured users, the default queue."""
        migrations.apply_pending(self.backend)  # one process applies them, the others wait (migrations/)
        ensure_indexes(self.backend, db.BACKEND_COLLECTIONS)
        ensure_indexes(self.auth_db, db.AUTH_COLLECTIONS)
        self.events.setup()
        self.webhooks.setup()
        self.apps.store.setup()
        self.auth.sync_users()
        self.queues.ensure_default(self.company_id, self.config.get("apiserver.default_queue_name", "default"))
        self.queues.setup()
        reconcile_at_startup(self.queues)
