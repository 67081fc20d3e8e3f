"""Checking one basic wizard value against its type (forms send strings: numeric text and "true" are accepted)."""

BASIC_TYPES = ("string", "integer", "float", "dropdown", "checkbox", "multiline_text")
COMPLEX_TYPES = ("group", "list")
FIELD_TYPES = BASIC_TYPES + COMPLEX_TYPES


class BadValue(ValueError):
    pass


def coerce(ftype: str, value):
    """The value converted to its field type, or BadValue saying what was expected."""
    if ftype in ("string", "multiline_text"):
        if isinstance(value, str):
            return value
        raise BadValue("must be a string")
    if ftype == "integer":
        if isinstance(value, bool):
            raise BadValue("must be an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise BadValue("must be an integer")
    if ftype == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise BadValue("must be a number")
    if ftype == "checkbox":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise BadValue("must be true or false")
    if ftype == "dropdown":
        if isinstance(value, (str, int, float, bool)):
            return value
        raise BadValue("must be one of the choices")
    raise BadValue(f"unknown type {ftype!r}")


def same_value(a, b) -> bool:
    """Conditions compare loosely: the HOCON ``value: true`` matches a checkbox's True and the text "true"."""
    return _norm(a) == _norm(b)


def same_key(key: str, value) -> bool:
    """A ``default_conditional_on`` key (always text in HOCON) against the other field's value."""
    return _norm(key) == _norm(value)


def _norm(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(float(v))
    if isinstance(v, str):
        s = v.strip()
        if s.lower() in ("true", "false"):
            return s.lower()
        try:
            return repr(float(s))
        except ValueError:
            return s
    return v
