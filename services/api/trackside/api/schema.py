"""Base class and field helpers for request schemas (marshmallow), one schema per endpoint.

Unknown body keys are ignored (the SDK adds ``"method": "get"`` to every body) and ``null`` on an optional
field means "not given". Coercions follow the reference: an integer may come as a string (``"5"``, as its
jsonmodels IntField parses it; ``"5.5"`` or ``true`` stay type errors naming the field), and the filter lists of
``get_all`` queries take a single string as a one-item list (its query layer wraps scalars). Other lists
(``ids``, ``tags`` of an edit) stay strict, as the reference's request models are.
"""
from __future__ import annotations

import json
import re

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing, post_load, pre_load, validate

from trackside.api import errors

MISSING_MESSAGE = "Missing data for required field."
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
# MongoDB stores 64-bit integers at most; a larger one is the request's error, not a 500 on write.
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def bounded_int(text: str) -> int:
    """``json.loads``'s ``parse_int`` for request bodies: an integer beyond 64 bits is refused (400/12)."""
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise errors.ValidationError(f"integer {text[:30]} is out of the 64-bit range")
    return value


class RequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _null_takes_the_default(self, data, **kwargs):
        """A null for a field with a default means "use the default" (the SDK sends many nulls); other nulls
        stay, so a handler can still tell ``project: null`` (move to the root) from an absent key."""
        if not isinstance(data, dict):
            return data
        defaulted = {f.data_key or name for name, f in self.fields.items() if f.load_default is not missing}
        return {k: v for k, v in data.items() if v is not None or k not in defaulted}

    def on_bind_field(self, field_name, field_obj):
        if not field_obj.required:
            field_obj.allow_none = True
        field_obj.error_messages.setdefault("required", MISSING_MESSAGE)
        super().on_bind_field(field_name, field_obj)


def Str(**kw):
    return fields.String(**kw)


class _Integer(fields.Integer):
    """An integer, or a string or integral float that is one; never a boolean."""

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, str):
            if not _INTEGER_TEXT.fullmatch(value.strip()):
                raise self.make_error("invalid")
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            raise self.make_error("invalid")
        return super()._validated(value)


class _QueryList(fields.List):
    """A ``get_all`` filter list: a single string is taken as a one-item list."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = [value]
        return super()._deserialize(value, attr, data, **kwargs)


def Int(**kw):
    return _Integer(strict=True, **kw)


def StrictInt(**kw):
    """An integer only, for the few endpoints the reference checks against its JSON schema (workers stats)."""
    return fields.Integer(strict=True, **kw)


def Float(**kw):
    return fields.Float(**kw)


def Bool(**kw):
    return fields.Boolean(**kw)


def Dict(**kw):
    return fields.Dict(**kw)


def StrList(**kw):
    # Items are never null: ids, keys and field names are used as text (a null one was a 500).
    return fields.List(fields.String(), **kw)


def QueryList(**kw):
    """A list of strings to filter by; ``"x"`` means ``["x"]``, null items mean "empty"."""
    return _QueryList(fields.String(allow_none=True), **kw)


def DictList(**kw):
    return fields.List(fields.Dict(), **kw)


def Raw(**kw):
    return fields.Raw(**kw)


def OneOf(choices, **kw):
    return fields.String(validate=validate.OneOf(list(choices)), **kw)


class GetAllRequest(RequestSchema):
    """Query keys every ``get_all``/``get_all_ex`` call understands.

    ``query_prefixes`` lists dotted request keys a subclass passes on untouched (``"hyperparams."`` keeps
    every ``hyperparams.<section>.<name>.value`` filter), since such keys cannot be declared one by one."""

    query_prefixes: tuple[str, ...] = ()

    id = QueryList()
    name = Str()
    tags = QueryList()
    system_tags = QueryList()
    # Field paths, not filter values: a null item is a 400, not "empty".
    only_fields = _QueryList(fields.String())
    order_by = _QueryList(fields.String())
    page = Int()
    page_size = Int()
    search_hidden = Bool(load_default=False)
    # Words searched in the fields of the reference's text index (see query.text_search_filter).
    search_text = Str()
    # Scroll paging (2.15): scroll_id present (even null) switches from page/page_size to size.
    scroll_id = Str()
    size = Int(validate=validate.Range(min=1))
    refresh_scroll = Bool(load_default=False)
    # List filters with include/exclude parts (2.27): {field: {any, all, op}}.
    filters = Dict()
    # Multi-field search: {pattern | datetime, fields}; _or_/_and_ are the reference's aliases.
    _any_ = Dict(data_key="_any_")
    _all_ = Dict(data_key="_all_")
    _or_ = Dict(data_key="_or_")
    _and_ = Dict(data_key="_and_")

    @post_load(pass_original=True)
    def _keep_prefixed_query_keys(self, data, original, **kwargs):
        if self.query_prefixes and isinstance(original, dict):
            for key, value in original.items():
                if key not in data and any(key == p.rstrip(".") or key.startswith(p) for p in self.query_prefixes):
                    data[key] = value
        return data


class ManyRequest(RequestSchema):
    """The ``*_many`` batch forms: a list of ids plus the single form's options."""

    ids = StrList(required=True)


def load_lines(lines: list[str], schema: type[RequestSchema]) -> list[dict]:
    """The lines of a json-lines batch request, each parsed and loaded with ``schema``; the first bad line
    fails the request (400/12, or 400/11 for a missing field) naming its number and field."""
    items = []
    for number, line in enumerate(lines, start=1):
        try:
            body = json.loads(line, parse_int=bounded_int)
        except ValueError as exc:
            raise errors.ValidationError(f"line {number}: not valid JSON: {exc}", line=number) from None
        if not isinstance(body, dict):
            raise errors.ValidationError(f"line {number}: expected a JSON object", line=number)
        try:
            items.append(schema().load(body))
        except ValidationError as exc:
            problems = {field: "; ".join(map(str, msgs)) if isinstance(msgs, list) else str(msgs)
                        for field, msgs in exc.messages.items()}
            detail = ", ".join(f"{field}: {msg}" for field, msg in problems.items())
            error = errors.MissingRequiredFields if all(m == MISSING_MESSAGE for m in problems.values()) \
                else errors.ValidationError
            raise error(f"line {number}: {detail}", line=number, fields=sorted(problems)) from None
    return items
