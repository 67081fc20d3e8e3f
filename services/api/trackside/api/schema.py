"""Base class and field helpers for request schemas (marshmallow), one schema per endpoint.

Unknown body keys are ignored (the SDK adds ``"method": "get"`` to every body), ``null`` on an optional
field means "not given", and integers are strict so that ``"5"`` is a type error that names the field.
"""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, missing, pre_load, validate

MISSING_MESSAGE = "Missing data for required field."


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


def Int(**kw):
    return fields.Integer(strict=True, **kw)


def Float(**kw):
    return fields.Float(**kw)


def Bool(**kw):
    return fields.Boolean(**kw)


def Dict(**kw):
    return fields.Dict(**kw)


def StrList(**kw):
    return fields.List(fields.String(allow_none=True), **kw)


def DictList(**kw):
    return fields.List(fields.Dict(), **kw)


def Raw(**kw):
    return fields.Raw(**kw)


def OneOf(choices, **kw):
    return fields.String(validate=validate.OneOf(list(choices)), **kw)


class GetAllRequest(RequestSchema):
    """Query keys every ``get_all``/``get_all_ex`` call understands."""

    id = StrList()
    name = Str()
    tags = StrList()
    system_tags = StrList()
    only_fields = StrList()
    order_by = StrList()
    page = Int()
    page_size = Int()
    search_hidden = Bool(load_default=False)
    # Multi-field search: {pattern, fields}; _or_/_and_ are the reference's aliases.
    _any_ = Dict(data_key="_any_")
    _all_ = Dict(data_key="_all_")
    _or_ = Dict(data_key="_or_")
    _and_ = Dict(data_key="_and_")


class ManyRequest(RequestSchema):
    """The ``*_many`` batch forms: a list of ids plus the single form's options."""

    ids = StrList(required=True)
