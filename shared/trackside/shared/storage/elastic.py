"""Elasticsearch clients from ``hosts.conf``: ``hosts.elastic.<cluster>`` with ``hosts``, client ``args`` and
``plain_json``.

``hosts`` is a list of ``{host, port, scheme}`` (or URLs); ``args`` go to the ``Elasticsearch`` constructor as
they are (``request_timeout``, ``max_retries``, ``retry_on_timeout``, ``basic_auth``, ``headers``...), except
ClearML's ``timeout``, which the 8.x client calls ``request_timeout``.

The 8.x client always sends ``application/vnd.elasticsearch+json; compatible-with=8`` (it rewrites even
headers given through ``headers=``), which Elasticsearch 8 expects. OpenSearch-API servers such as the
in-memory ``osmem-server`` the tests run on answer it with 406. ``plain_json: true`` makes the client send plain
``application/json`` and ``application/x-ndjson`` instead, through the transport's public extension point for
custom HTTP nodes (``node_class``). Leave it off against Elasticsearch.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from elastic_transport import Urllib3HttpNode
from elasticsearch import Elasticsearch

DEFAULT_PORT = 9200
_COMPAT_MEDIA_TYPE = re.compile(r"application/vnd\.elasticsearch\+([\w.-]+)\s*;\s*compatible-with=\d+")


class PlainJsonNode(Urllib3HttpNode):
    """The default urllib3 node, sending media types without the ``compatible-with`` versioning."""

    def perform_request(self, method, target, body=None, headers=None, **options):
        if headers:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                if name in headers:
                    headers[name] = _COMPAT_MEDIA_TYPE.sub(r"application/\1", headers[name])
        return super().perform_request(method, target, body=body, headers=headers, **options)


def connect(settings: Mapping[str, Any]) -> Elasticsearch:
    """A client for one ``hosts.elastic.<cluster>`` section (a dict or a pyhocon ConfigTree)."""
    settings = _plain(settings)
    hosts = [_node(host) for host in settings.get("hosts") or [{}]]
    args = dict(settings.get("args") or {})
    if "timeout" in args:
        args.setdefault("request_timeout", args["timeout"])
        del args["timeout"]
    if settings.get("plain_json"):
        args["node_class"] = PlainJsonNode
    return Elasticsearch(hosts, **args)


def _node(host: Any) -> str | dict:
    if isinstance(host, str):
        return host
    node = {"scheme": "http", "host": "127.0.0.1", "port": DEFAULT_PORT, **host}
    node["port"] = int(node["port"])
    return node


def _plain(settings: Any) -> Any:
    as_dict = getattr(settings, "as_plain_ordered_dict", None)
    return dict(as_dict()) if as_dict else settings
