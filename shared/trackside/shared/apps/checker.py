"""Collects problems while walking an app.conf, so that validation reports all of them at once."""
from trackside.shared.apps.errors import Problem

TYPE_NAMES = {str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "a list",
              dict: "an object"}


class Checker:
    def __init__(self, file: str, assets=()):
        self.file = file
        self.assets = set(assets)
        self.problems: list = []

    def error(self, path: str, message: str):
        self.problems.append(Problem(self.file, path, message))

    def is_type(self, value, kind, path: str) -> bool:
        """True where ``value`` has the type; records a problem otherwise (bool is not a number here)."""
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            self.error(path, f"must be {TYPE_NAMES.get(kind, kind.__name__)}, not {type(value).__name__}")
        return ok

    def keys(self, obj: dict, path: str, allowed, required=()) -> None:
        """Unknown keys (usually typos) and missing required keys are problems."""
        for key in obj:
            if key not in allowed:
                self.error(join(path, key), "unknown key")
        for key in required:
            if key not in obj:
                self.error(join(path, key), "is required")


def join(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)
