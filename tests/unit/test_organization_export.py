"""The pure parts of the organization export and the project-wide reads: CSV paging and cells, numeric order."""
from __future__ import annotations

import csv
import io

from trackside.api.bll.organization import csv_export
from trackside.api.bll.project_queries import numeric_order


def export(entities: list[dict], mappings: list[dict], batch_size: int, max_items: int) -> tuple[list, list]:
    calls = []

    def fetch(page: int, size: int) -> list[dict]:
        calls.append((page, size))
        return entities[page * size:(page + 1) * size]

    text = "".join(csv_export(mappings, fetch, batch_size, max_items))
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff")))), calls


def test_pages_to_the_last_one_and_stops_on_a_short_page():
    entities = [{"id": f"i{n}", "name": f"n{n}"} for n in range(7)]
    rows, calls = export(entities, [{"field": "name"}], batch_size=3, max_items=100)
    assert rows == [["name"]] + [[f"n{n}"] for n in range(7)]
    assert calls == [(0, 3), (1, 3), (2, 3)]


def test_the_item_limit_cuts_the_last_page_without_shifting_offsets():
    entities = [{"id": f"i{n}"} for n in range(10)]
    rows, calls = export(entities, [{"field": "id", "name": "ID"}], batch_size=3, max_items=5)
    assert rows == [["ID"], ["i0"], ["i1"], ["i2"], ["i3"], ["i4"]]
    assert calls == [(0, 3), (1, 3)]


def test_cells_map_values_follow_paths_and_show_ids_of_objects():
    entities = [{"status": "created", "project": {"id": "p1", "name": "x"}, "a": {"b": 5}},
                {"status": "other", "project": None}]
    mappings = [{"field": "status", "values": [{"key": "created", "value": "Draft"}]},
                {"field": "project"}, {"field": "a.b", "name": "AB"}, {"field": "missing.leaf"}]
    rows, _ = export(entities, mappings, batch_size=10, max_items=10)
    assert rows == [["status", "project", "AB", "missing.leaf"], ["Draft", "p1", "5", ""],
                    ["other", "None", "", ""]]


def test_no_entities_gives_the_header_only():
    rows, _ = export([], [{"field": "name", "name": "Name"}], batch_size=5, max_items=5)
    assert rows == [["Name"]]


def test_numeric_order():
    values = ["10", "2", "-1", "a", "B", "1.5", "1.10", None, "abc2", "abc10"]
    assert sorted(values, key=numeric_order) == [None, "-1", "1.5", "1.10", "2", "10", "a", "abc2", "abc10", "B"]
