"""The tag, user, metric/variant and hyper-parameter listings answered from the per-project summaries
(:mod:`listing_summaries`): a few small documents per request, whatever the number of tasks. Each answers
exactly what the scan of the tasks (or models) it replaces answered; requests the summaries cannot answer
(a tags filter, explicit task ids) stay with the scans."""
from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

from pymongo.database import Database

from trackside.api.bll.listing_summaries import MODELS, TASKS, ListingSummaries, hashable, param_items


class ListingReads:
    def __init__(self, db: Database):
        self.db = db
        self.summaries = ListingSummaries(db)

    def _collect(self, entity: str, companies: Sequence[str], projects: Sequence[str | None] | None,
                 *kinds: str) -> list[dict]:
        return self.summaries.collect(entity, companies, projects, kinds)

    def tags(self, entities: Iterable[str], company: str, projects: Sequence[str | None] | None,
             include_system: bool) -> dict:
        """{tags[, system_tags]} of the company's tasks and/or models in ``projects`` (None: all), sorted."""
        fields = ("tags", "system_tags") if include_system else ("tags",)
        found: dict[str, set] = {field: set() for field in fields}
        for entity in entities:
            for summary in self._collect(entity, [company], projects, *fields):
                for field in fields:
                    found[field].update(summary.get(field) or ())
        return {field: sorted(values) for field, values in found.items()}

    def user_ids(self, entity: str, company: str, projects: Sequence[str | None] | None) -> list[str]:
        summaries = self._collect(entity, [company], projects, "users")
        return sorted({u for s in summaries for u in s.get("users") or () if u})

    def metric_variants(self, entity: str, company: str, projects: Sequence[str | None] | None) -> list[dict]:
        """Every metric/variant pair of the tasks' (or models') last_metrics with its hashes, by names."""
        pairs: dict[tuple[str, str], dict] = {}
        for summary in self._collect(entity, [company], projects, "metrics"):
            for entry in summary.get("metrics") or ():
                pairs.setdefault((entry["metric"], entry["variant"]), entry)
        return [pairs[key] for key in sorted(pairs)]

    def hyper_parameters(self, companies: Sequence[str], projects: Sequence[str | None] | None) -> list[tuple]:
        """The (section, name) pairs of the tasks' hyper-parameters, sorted."""
        summaries = self._collect(TASKS, companies, projects, "params")
        return sorted({tuple(p) for s in summaries for p in s.get("params") or ()})

    def hyperparam_values(self, companies: Sequence[str], projects: Sequence[str | None] | None, section: str,
                          name: str, regex: re.Pattern | None) -> set:
        """The distinct values of one hyper-parameter (matching ``regex``); a project whose summary keeps too
        many values to hold them is read from its tasks."""
        values: set[Any] = set()
        for summary in self._collect(TASKS, companies, projects, "params"):
            if summary.get("values_overflow"):
                found = (hashable(item.get("value"))
                         for task in self.db[TASKS].find({"company": summary["company"], "project": summary["project"]},
                                                         {"hyperparams": 1})
                         for item in param_items(task.get("hyperparams"))
                         if item["section"] == section and item["name"] == name)
            else:
                found = (v for s, n, v in summary.get("values") or () if s == section and n == name)
            values.update(v for v in found if regex is None or (v is not None and regex.search(str(v))))
        return values


def entity_collection(model: bool) -> str:
    return MODELS if model else TASKS
