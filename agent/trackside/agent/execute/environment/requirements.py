"""The task's pip requirements: where they come from (the task, else the repository's requirements.txt),
how they split into install steps (priority first, post last, optional ones tolerated when they fail),
and their normalised form for the venv cache key."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from trackside.agent.config import AgentConfig

NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
LOCAL_REFERENCE = re.compile(r"(^-e\s|^--editable|^-r\s|^--requirement|^-c\s|^--constraint|file:|^\.{0,2}/|"
                             r"^[A-Za-z0-9._-]+\s*@\s*\.)")


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def package_name(line: str) -> str | None:
    """The distribution a requirement line installs (None for options and URLs without a name)."""
    line = line.strip()
    if not line or line.startswith(("-", "#")) or "://" in line.split("@")[0]:
        return None
    match = NAME.match(line)
    return canonical_name(match[1]) if match else None


def meaningful_lines(text: str) -> list[str]:
    """Lines pip acts on: comments (whole-line or trailing) and blanks dropped."""
    lines = []
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line:
            lines.append(line)
    return lines


@dataclass
class Requirements:
    original: str                     # as given: becomes org_pip in tasks.set_requirements
    source: str                       # "task", the requirements.txt path, or "none"
    lines: list[str] = field(default_factory=list)

    @property
    def refers_to_local_files(self) -> bool:
        """Editable installs, local paths, nested -r/-c files: their content is not in the lines."""
        return any(LOCAL_REFERENCE.search(line) for line in self.lines)

    def normalised(self) -> list[str]:
        """Sorted, whitespace-free, names canonical: equal for requirement sets that install the same."""
        result = []
        for line in self.lines:
            name = package_name(line)
            compact = re.sub(r"\s+", "", line)
            if name:
                compact = name + compact[len(NAME.match(compact)[1]):]
            result.append(compact)
        return sorted(result)


def task_requirements(task: dict, code_cwd: Path, code_root: Path, config: AgentConfig) -> Requirements:
    section = ((task.get("script") or {}).get("requirements") or {})
    section = section if isinstance(section, dict) else {}
    key = "org_pip" if config.get("agent.package_manager.force_original_requirements") and section.get("org_pip") \
        else "pip"
    text = _as_text(section.get(key))
    if meaningful_lines(text) and not config.get("agent.package_manager.force_repo_requirements_txt"):
        return Requirements(text, "task", meaningful_lines(text))
    found = find_requirements_txt(code_cwd, code_root)
    if found is not None:
        content = found.read_text(errors="replace")
        return Requirements(content, str(found), meaningful_lines(content))
    return Requirements(text, "task" if text else "none", meaningful_lines(text))


def find_requirements_txt(cwd: Path, root: Path) -> Path | None:
    """The nearest requirements.txt from the working dir up to the repository root."""
    here, root = cwd.resolve(), root.resolve()
    while True:
        candidate = here / "requirements.txt"
        if candidate.is_file():
            return candidate
        if here == root or not here.is_relative_to(root) or here.parent == here:
            return None
        here = here.parent


def _as_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return "\n".join(str(line) for line in value)
    return str(value or "")


@dataclass
class InstallPlan:
    """pip install steps in order; the optional ones may fail without failing the task."""
    first: list[str]
    first_optional: list[str]
    main: list[str]
    last: list[str]
    last_optional: list[str]


def plan_install(requirements: Requirements, config: AgentConfig) -> InstallPlan:
    """As clearml-agent: the listed names are taken from the requirements, not added to them. Priority
    packages install first (and stay in the main step); optional priority and post packages leave it."""
    def names(key: str) -> set[str]:
        return {canonical_name(n) for n in config.get(f"agent.package_manager.{key}") or []}

    priority, priority_optional = names("priority_packages"), names("priority_optional_packages")
    post, post_optional = names("post_packages"), names("post_optional_packages")
    plan = InstallPlan([], [], [], [], [])
    for line in requirements.lines:
        name = package_name(line)
        if name in post_optional:
            plan.last_optional.append(line)
        elif name in post:
            plan.last.append(line)
        elif name in priority_optional:
            plan.first_optional.append(line)
        else:
            if name in priority:
                plan.first.append(line)
            plan.main.append(line)
    return plan
