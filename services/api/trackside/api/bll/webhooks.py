"""Webhooks (subscriptions to the domain events) and their delivery log, per company.

A webhook's secret is generated here, shown once (create, rotate_secret) and stored sealed with a key derived
from ``secure.auth.token_secret`` (``trackside.shared.webhooks.sealing``); no answer or log line carries it
afterwards. Deliveries are made by the webhooks service's RQ workers: ``test`` and ``redeliver`` write or
reopen a delivery document and hand its id to them (``jobs.enqueue_delivery``).
"""
from __future__ import annotations

import logging
from datetime import timedelta

import redis
from pymongo.database import Database
from pyhocon import ConfigTree

from trackside.api import errors
from trackside.api.bll.common import require_ids, scroll_position, to_api
from trackside.api.bll.task_status import TASK_STATUSES
from trackside.api.context import Identity
from trackside.shared import domain_events
from trackside.shared.auth_tokens import token_secret
from trackside.shared.ids import new_id
from trackside.shared.timeutil import utcnow
from trackside.shared.webhooks import jobs, sealing, store, targets, templates

log = logging.getLogger(__name__)
# A rotated-out secret still signs deliveries this long, so receivers can switch without losing any.
PREVIOUS_SECRET_TTL = timedelta(hours=24)
# What webhooks.get_all shows of a webhook (never a secret).
SHOWN = ("id", "name", "url", "event_types", "projects", "statuses", "payload_template", "enabled",
         "disabled_reason", "failing_since", "created", "last_update", "user")
DELIVERY_SHOWN = ("id", "event_id", "event_type", "status", "attempt", "attempts", "next_attempt_at", "created",
                  "last_update")
# Fields create and update take from the request, checked by :meth:`WebhooksBLL._checked`.
SETTABLE = ("name", "url", "event_types", "projects", "statuses", "payload_template", "enabled")


def invalid(field: str, problem: str) -> errors.APIError:
    return errors.ValidationError(f"Validation error ({field}: {problem})", fields=[field])


class WebhooksBLL:
    def __init__(self, db: Database, redis, config: ConfigTree):
        self.coll = db[store.WEBHOOKS]
        self.deliveries = db[store.DELIVERIES]
        self._db = db
        self._redis = redis
        self._config = config
        self._token_secret = token_secret(config)

    def setup(self) -> None:
        store.ensure_indexes(self._db)

    @property
    def _allow_private(self) -> bool:
        value = self._config.get("services.webhooks.allow_private_targets", False)
        return value is True or str(value).strip().lower() == "true"

    # -- the subscriptions -------------------------------------------------------------------------------
    def create(self, identity: Identity, data: dict) -> dict:
        fields = self._checked(identity.company, {k: data[k] for k in SETTABLE if k in data})
        secret = sealing.new_secret()
        now = utcnow()
        doc = {
            "_id": new_id(), "company": identity.company, "user": identity.user,
            "name": fields["name"], "url": fields["url"], "event_types": fields["event_types"],
            "projects": fields.get("projects") or [], "statuses": fields.get("statuses") or [],
            "payload_template": fields.get("payload_template"), "enabled": fields.get("enabled", True),
            "secret_sealed": sealing.seal(secret, self._token_secret), "previous_secret_sealed": None,
            "previous_secret_expires": None, "disabled_reason": None, "failing_since": None,
            "created": now, "last_update": now,
        }
        self.coll.insert_one(doc)
        return {"id": doc["_id"], "secret": secret}

    def get_all(self, company: str, ids: list[str] | None, enabled: bool | None) -> list[dict]:
        query: dict = {"company": company}
        if ids:
            query["_id"] = {"$in": ids}
        if enabled is not None:
            query["enabled"] = enabled
        found = self.coll.find(query, {field: 1 for field in SHOWN if field != "id"}).sort("created", 1)
        return [shown(to_api(doc), SHOWN) for doc in found]

    def update(self, identity: Identity, webhook_id: str, data: dict) -> dict:
        self._require(identity.company, webhook_id)
        changes = self._checked(identity.company, {k: data[k] for k in SETTABLE if data.get(k) is not None})
        if changes.get("payload_template") == "":  # null means "not given"; "" clears the template
            changes["payload_template"] = None
        if not changes:
            return {"updated": 0}
        if changes.get("enabled") is True:  # turned back on by its owner: a fresh start
            changes.update(disabled_reason=None, failing_since=None)
        changes["last_update"] = utcnow()
        self.coll.update_one({"_id": webhook_id, "company": identity.company}, {"$set": changes})
        return {"updated": 1}

    def delete(self, identity: Identity, webhook_id: str) -> dict:
        if not self.coll.delete_one({"_id": webhook_id, "company": identity.company}).deleted_count:
            raise not_found("webhook", webhook_id)
        self.deliveries.delete_many({"webhook": webhook_id, "company": identity.company})
        return {"deleted": 1}

    def rotate_secret(self, identity: Identity, webhook_id: str) -> dict:
        webhook = self._require(identity.company, webhook_id)
        secret = sealing.new_secret()
        now = utcnow()
        self.coll.update_one({"_id": webhook_id, "company": identity.company}, {"$set": {
            "secret_sealed": sealing.seal(secret, self._token_secret),
            "previous_secret_sealed": webhook["secret_sealed"], "previous_secret_expires": now + PREVIOUS_SECRET_TTL,
            "last_update": now,
        }})
        return {"secret": secret}

    # -- deliveries --------------------------------------------------------------------------------------
    def test(self, identity: Identity, webhook_id: str) -> dict:
        """A ``webhook.test`` delivery of this webhook, enqueued now."""
        webhook = self._require(identity.company, webhook_id)
        event = domain_events.envelope(domain_events.TEST_EVENT_TYPE, identity.company, {"webhook": webhook_id})
        body = templates.render(webhook.get("payload_template"), event)
        now = utcnow()
        delivery = {
            "_id": store.new_delivery_id(), "company": identity.company, "webhook": webhook_id,
            "event_id": event["id"], "event_type": event["type"],
            "body": body[:self._max_body_bytes()].decode("utf-8", errors="ignore"),
            "status": store.PENDING, "attempts": [], "attempt": 0, "next_attempt_at": now,
            "created": now, "last_update": now,
        }
        self.deliveries.insert_one(delivery)
        self._enqueue(delivery["_id"])
        return {"delivery": delivery["_id"]}

    def redeliver(self, identity: Identity, delivery_id: str) -> dict:
        """The same delivery (same ``webhook-id``) sent again, as a new attempt."""
        now = utcnow()
        result = self.deliveries.update_one(
            {"_id": delivery_id, "company": identity.company},
            {"$set": {"status": store.PENDING, "next_attempt_at": now, "last_update": now}})
        if not result.matched_count:
            raise not_found("delivery", delivery_id)
        self._enqueue(delivery_id, again=True)
        return {"delivery": delivery_id}

    def _enqueue(self, delivery_id: str, again: bool = False) -> None:
        """Hand the delivery to the workers; with Redis down it stays pending and the webhooks service's sweep
        enqueues it once Redis is back (services.webhooks.sweep_overdue_sec)."""
        try:
            jobs.enqueue_delivery(self._redis, delivery_id, again=again)
        except redis.RedisError as exc:
            log.warning("webhooks: delivery %s stored, not enqueued (%s); the sweep will", delivery_id, exc)

    def get_deliveries(self, company: str, webhook_id: str, statuses: list[str] | None, size: int,
                       scroll_id: str | None) -> list[dict]:
        """A page of the webhook's deliveries, newest first (``scroll_id``: where the last page ended)."""
        self._require(company, webhook_id)
        query: dict = {"company": company, "webhook": webhook_id}
        if statuses:
            query["status"] = {"$in": statuses}
        start = scroll_position(scroll_id)
        found = self.deliveries.find(query, {field: 1 for field in DELIVERY_SHOWN if field != "id"}) \
            .sort([("created", -1), ("_id", -1)]).skip(start).limit(size)
        return [shown(to_api(doc), DELIVERY_SHOWN) for doc in found]

    # -- checks ------------------------------------------------------------------------------------------
    def _require(self, company: str, webhook_id: str) -> dict:
        webhook = self.coll.find_one({"_id": webhook_id, "company": company})
        if webhook is None:
            raise not_found("webhook", webhook_id)
        return webhook

    def _max_body_bytes(self) -> int:
        return int(self._config.get("services.webhooks.max_body_bytes", 262144))

    def _checked(self, company: str, fields: dict) -> dict:
        """The request's webhook fields, each checked; the first problem raises 400/12 naming its field, so
        nothing is stored."""
        if "name" in fields and not str(fields["name"]).strip():
            raise invalid("name", "must not be empty")
        if "url" in fields:
            try:
                targets.check_url(fields["url"], allow_private=self._allow_private)
            except targets.TargetRefused as exc:
                raise invalid("url", str(exc)) from None
        if "event_types" in fields:
            if not fields["event_types"]:
                raise invalid("event_types", "at least one event type is required")
            unknown = [t for t in fields["event_types"] if t not in domain_events.EVENT_TYPES]
            if unknown:
                raise invalid("event_types", f"unknown event type(s) {', '.join(map(str, unknown))}; known: "
                                             f"{', '.join(domain_events.EVENT_TYPES)}")
            fields["event_types"] = list(dict.fromkeys(fields["event_types"]))
        if fields.get("statuses"):
            unknown = [s for s in fields["statuses"] if s not in TASK_STATUSES]
            if unknown:
                raise invalid("statuses", f"unknown task status(es) {unknown}")
        if fields.get("projects"):
            require_ids(self._db["projects"], company, list(dict.fromkeys(fields["projects"])), errors.InvalidProjectId)
        if fields.get("payload_template"):
            try:
                templates.validate(fields["payload_template"])
            except templates.TemplateError as exc:
                raise invalid("payload_template", str(exc)) from None
        return fields


def not_found(kind: str, object_id: str) -> errors.APIError:
    return errors.InvalidId(f"invalid {kind} id: {object_id!r} not found", id=object_id)


def shown(doc: dict, fields: tuple[str, ...]) -> dict:
    return {field: doc.get(field) for field in fields}
