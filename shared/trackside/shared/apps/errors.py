"""Errors of app packages and launches; each carries every problem found, not just the first."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong: in which file, at which key path (``wizard.entries[3].type``), and what."""
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class PackageError(ValueError):
    """A package that cannot be installed; ``problems`` lists all of them."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("invalid app package: " + "; ".join(str(p) for p in self.problems))


class LaunchError(ValueError):
    """Launch parameters that do not fit the wizard; ``problems`` maps a field path to what is wrong."""

    def __init__(self, problems: dict):
        self.problems = dict(problems)
        super().__init__("invalid launch parameters: " + "; ".join(f"{k}: {v}" for k, v in self.problems.items()))
