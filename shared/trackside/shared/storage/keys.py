"""Field names for keys users choose (parameter sections and names, configuration names, metadata keys):
``%``, ``.`` and ``$`` percent-encoded, so any key is exactly one MongoDB path element and can be ``$set``
on its own. Keys without those characters are stored as they are."""
from __future__ import annotations

import re

_ESCAPES = {"%": "%25", ".": "%2E", "$": "%24"}
_UNESCAPES = {code[1:]: char for char, code in _ESCAPES.items()}
_ESCAPED = re.compile("%(25|2E|24)")


def escape(name: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in name)


def unescape(name: str) -> str:
    return _ESCAPED.sub(lambda match: _UNESCAPES[match.group(1)], name)
