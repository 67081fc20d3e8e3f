"""The task fields of old API versions, written and read in place of today's (as the reference server does).

- ``execution.parameters`` (``{"lr": 1, "TF_DEFINE/x": 2}``) is kept as hyper-parameters of type ``legacy``:
  section ``TF_DEFINE`` for names so prefixed, ``Args`` otherwise; ``execution.model_desc`` as configuration
  items of type ``legacy``. Accepted at every version; read back for requests before 2.9.
- before 2.13, ``execution.model`` / ``output.model`` stand for the first input and the last output model
  reference, and ``execution.docker_cmd`` for ``container`` (image, then arguments).

Pure functions on request data and API-shaped tasks.
"""
from __future__ import annotations

import copy

from trackside.api import errors
from trackside.shared.timeutil import utcnow

LEGACY_TYPE = "legacy"
DEFAULT_SECTION = "Args"
TF_DEFINE_SECTION = "TF_DEFINE"
MODEL_NAMES = {"input": "Input Model", "output": "Output Model"}
PARAMS_BEFORE = (2, 9)
MODELS_AND_DOCKER_BEFORE = (2, 13)


def _legacy_param(full_name: str, value) -> dict:
    section, _, name = full_name.partition("/")
    if section != TF_DEFINE_SECTION:
        section, name = DEFAULT_SECTION, full_name
    if not name:
        raise errors.ValidationError(f"execution.parameters: empty parameter name in {full_name!r}",
                                     field="execution.parameters")
    return {"section": section, "name": name, "type": LEGACY_TYPE, "value": str(value)}


def _without_legacy(items: dict | None, sectioned: bool) -> dict:
    if not sectioned:
        return {k: v for k, v in (items or {}).items() if (v or {}).get("type") != LEGACY_TYPE}
    kept = {section: _without_legacy(params, False) for section, params in (items or {}).items()}
    return {section: params for section, params in kept.items() if params}


def prepare_for_save(data: dict, version: tuple[int, int], previous: dict | None = None) -> dict:
    """Request data with old-version fields moved to today's. ``previous``: the task being edited, whose
    non-legacy parameters stay when only legacy ones are sent."""
    data = copy.deepcopy(data)
    execution = data.get("execution") or {}
    parameters, model_desc = execution.pop("parameters", None), execution.pop("model_desc", None)
    # Legacy items join the given parameters, or the edited task's non-legacy ones when none are given.
    if parameters is not None:
        hyperparams = data.get("hyperparams") or _without_legacy((previous or {}).get("hyperparams"), True)
        for full_name, value in parameters.items():
            item = _legacy_param(full_name, value)
            hyperparams.setdefault(item["section"], {})[item["name"]] = item
        data["hyperparams"] = hyperparams
    if model_desc is not None:
        configuration = data.get("configuration") or _without_legacy((previous or {}).get("configuration"), False)
        for name, value in model_desc.items():
            configuration[name] = {"name": name, "type": LEGACY_TYPE, "value": str(value)}
        data["configuration"] = configuration
    if version < MODELS_AND_DOCKER_BEFORE:
        _models_for_save(data, execution)
        docker_cmd = execution.pop("docker_cmd", None)
        if docker_cmd is not None:
            image, _, arguments = docker_cmd.partition(" ")
            data["container"] = {**(data.get("container") or {}), "image": image, "arguments": arguments}
    return data


def _models_for_save(data: dict, execution: dict) -> None:
    now = utcnow()
    for kind, holder in (("input", execution), ("output", data.get("output") or {})):
        model = holder.pop("model", None)
        if model is not None:
            refs = [{"name": MODEL_NAMES[kind], "model": model, "updated": now}] if model else []
            data["models"] = {**(data.get("models") or {}), kind: refs}


def for_version(task: dict, version: tuple[int, int]) -> dict:
    """An API-shaped task with the fields an old client reads (in place; returns ``task``)."""
    if version < PARAMS_BEFORE:
        legacy = [p for section in (task.get("hyperparams") or {}).values() for p in section.values()
                  if p.get("type") == LEGACY_TYPE]
        if legacy:
            task.setdefault("execution", {})["parameters"] = {
                (f"{TF_DEFINE_SECTION}/{p['name']}" if p.get("section") == TF_DEFINE_SECTION else p["name"]):
                    p.get("value") for p in legacy}
        described = {name: item.get("value") for name, item in (task.get("configuration") or {}).items()
                     if (item or {}).get("type") == LEGACY_TYPE}
        if described:
            task.setdefault("execution", {})["model_desc"] = described
    if version < MODELS_AND_DOCKER_BEFORE:
        models = task.get("models") or {}
        if models.get("input"):
            task.setdefault("execution", {})["model"] = models["input"][0].get("model")
        if models.get("output"):
            task.setdefault("output", {})["model"] = models["output"][-1].get("model")
        container = task.get("container") or {}
        if container.get("image"):
            task.setdefault("execution", {})["docker_cmd"] = " ".join(
                filter(None, (container.get("image"), container.get("arguments"))))
    return task


def clone_overrides(overrides: dict, source: dict, version: tuple[int, int]) -> dict:
    """tasks.clone's ``execution_overrides`` in today's fields: ``model`` is the input model and
    ``docker_cmd`` the container unless those are given themselves; legacy ``parameters`` / ``model_desc``
    replace the source's legacy items (and join new hyper-parameters / configuration when given)."""
    overrides = dict(overrides)
    execution = dict(overrides.get("execution") or {})
    model, docker_cmd = execution.pop("model", None), execution.pop("docker_cmd", None)
    if model and overrides.get("input_models") is None:
        overrides["input_models"] = [{"name": MODEL_NAMES["input"], "model": model}]
    if docker_cmd and not overrides.get("container"):
        image, _, arguments = docker_cmd.partition(" ")
        overrides["container"] = {"image": image, "arguments": arguments}
    legacy = {key: execution.pop(key) for key in ("parameters", "model_desc") if key in execution}
    if legacy:
        saved = prepare_for_save({"execution": legacy, "hyperparams": overrides.get("hyperparams"),
                                  "configuration": overrides.get("configuration")}, version, source)
        overrides.update(hyperparams=saved.get("hyperparams"), configuration=saved.get("configuration"))
    overrides["execution"] = execution or None
    return overrides
