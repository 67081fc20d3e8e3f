"""events.*: what running tasks report (scalars, plots, debug images, console logs), and reading it back.

``events.add_batch`` takes JSON lines, one event per line: the SDK sends it as GET under ``/v2.23/``, the agent
as an unversioned POST. Each event is checked on its own (see :mod:`trackside.api.bll.events`). The reads are
in ``bll/event_reads.py`` (logs, raw events, metric lists), ``bll/event_histograms.py`` (scalar charts) and
``bll/event_samples.py`` (plots and debug images); the web app's extensions in ``bll/event_downsampled.py``
(charts downsampled on the server) and ``bll/event_log_lines.py`` (the console by position, server-side search).
"""
from __future__ import annotations

import string

from flask import Response
from marshmallow import ValidationError as SchemaError, fields, validate

from trackside.api import errors
from trackside.api.bll import event_legacy
from trackside.api.bll.event_downsample import MIN_POINTS
from trackside.api.bll.event_downsampled import DEFAULT_POINTS, KEYS as DOWNSAMPLED_KEYS, MAX_POINTS
from trackside.api.bll.event_histograms import KEYS, MAX_SAMPLES, clamp_samples
from trackside.api.bll.event_log_lines import DEFAULT_LIMIT as DEFAULT_LOG_LIMIT, MAX_LIMIT as MAX_LOG_LIMIT
from trackside.api.bll.event_raw import scalar_raw
from trackside.api.bll.event_reads import LOG_LINE_FIELDS, metric_variants
from trackside.api.bll.event_samples import multi_task_plots, task_plots
from trackside.api.context import Call
from trackside.api.registry import endpoint
from trackside.api.schema import Bool, Float, Int, OneOf, RequestSchema, Str, StrList
from trackside.shared.events import EVENT_TYPES

# Clients name their machine in these headers; it becomes the events' worker unless an event names one.
WORKER_HEADERS = ("x-clearml-worker", "x-trains-worker")
# How many tasks one comparison may cover (services.tasks.multi_task_histogram_limit in the reference).
MAX_COMPARED_TASKS = 100
# event_type values meaning "every type".
ANY_TYPE = ("all", "*")


def _worker(call: Call) -> str | None:
    headers = {name.lower(): value for name, value in call.headers.items()}
    return next((headers[h] for h in WORKER_HEADERS if headers.get(h)), None)


# -- adding ----------------------------------------------------------------------------------------------------
@endpoint("events.add_batch", batch=True)
def add_batch(call: Call) -> dict:
    return call.app.events.add(call.identity.company, call.data, _worker(call))


# No schema: the body is the event itself, checked like a batch line.
@endpoint("events.add")
def add(call: Call) -> dict:
    return call.app.events.add(call.identity.company, [call.data], _worker(call))


# -- request parts ---------------------------------------------------------------------------------------------
class MetricVariantsSchema(RequestSchema):
    metric = Str(required=True)
    variants = StrList()


class TaskMetricSchema(RequestSchema):
    task = Str(required=True)
    metric = Str()
    variants = StrList()


def MetricsList(**kw):
    return fields.List(fields.Nested(MetricVariantsSchema), **kw)


class TaskIds(fields.Field):
    """A list of task ids, or (as the reference accepts for comparisons) one comma-separated string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SchemaError("expected a list of task ids")
        if not value:
            raise SchemaError("at least one task id is required")
        return value


def EventType(**kw):
    return OneOf((*sorted(EVENT_TYPES), *ANY_TYPE), **kw)


def _event_type(value: str | None) -> str | None:
    return None if value in (None, *ANY_TYPE) else value


class TaskRequest(RequestSchema):
    task = Str(required=True)
    model_events = Bool(load_default=False)


# -- console log -----------------------------------------------------------------------------------------------
class TaskLogRequest(RequestSchema):
    task = Str(required=True)
    batch_size = Int(load_default=5000, validate=validate.Range(min=1))
    navigate_earlier = Bool(load_default=True)
    from_timestamp = Float()
    order = OneOf(("asc", "desc"))
    metrics = MetricsList()


class LegacyTaskLogRequest(RequestSchema):
    task = Str(required=True)
    order = OneOf(("asc", "desc"), load_default="desc")
    scroll_id = Str()
    batch_size = Int(load_default=500, validate=validate.Range(min=1))


class LegacyTaskLogFromRequest(LegacyTaskLogRequest):
    start = OneOf(("head", "tail"), load_default="head", data_key="from")


# Before 2.9 the log was scrolled (bll/event_legacy.py).
@endpoint("events.get_task_log", LegacyTaskLogRequest)
def get_task_log_scrolled(call: Call) -> dict:
    data = call.data
    return event_legacy.scroll_log(call.app.events.reads, call.identity.company, data["task"], data["order"],
                                   data["batch_size"], data.get("scroll_id"))


@endpoint("events.get_task_log", LegacyTaskLogFromRequest, min_version="1.7")
def get_task_log_from(call: Call) -> dict:
    data = call.data
    return event_legacy.scroll_log_from(call.app.events.reads, call.identity.company, data["task"], data["start"],
                                        data["order"], data["batch_size"], data.get("scroll_id"))


@endpoint("events.get_task_log", TaskLogRequest, min_version="2.9")
def get_task_log(call: Call) -> dict:
    data = call.data
    from_timestamp = data.get("from_timestamp")
    return call.app.events.reads.task_log(
        call.identity.company, data["task"], data["batch_size"], data["navigate_earlier"],
        int(from_timestamp) if from_timestamp is not None else None, data.get("order"),
        metric_variants(data.get("metrics")),
    )


class DownloadLogRequest(RequestSchema):
    task = Str(required=True)
    line_type = OneOf(("json", "text"), load_default="json")
    line_format = Str(load_default="{asctime} {worker} {level} {msg}")


@endpoint("events.download_task_log", DownloadLogRequest)
def download_task_log(call: Call) -> Response:
    data, company = call.data, call.identity.company
    call.app.events.reads.require(company, [data["task"]], fields=())
    line_format = None
    if data["line_type"] == "text":
        line_format = _checked_line_format(data["line_format"])
    lines = call.app.events.reads.log_lines(company, data["task"], line_format)
    return Response(lines, mimetype="text/plain",
                    headers={"Content-Disposition": f'attachment; filename="task_{data["task"]}.log"'})


def _checked_line_format(line_format: str) -> str:
    if not line_format:
        raise errors.MissingRequiredFields("line_format is required for plain text lines", fields=["line_format"])
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(line_format) if name is not None}
    except ValueError as exc:
        raise errors.FieldsValueError(f"invalid line format: {exc}", field="line_format") from None
    unknown = sorted(names - set(LOG_LINE_FIELDS))
    if unknown or "" in names:
        raise errors.FieldsValueError("undefined placeholders in line format", placeholders=unknown or [""])
    return line_format.rstrip("\n") + "\n"


# -- raw events ------------------------------------------------------------------------------------------------
class TaskEventsRequest(TaskRequest):
    order = OneOf(("asc", "desc"), load_default="asc")
    scroll_id = Str()
    batch_size = Int(load_default=500, validate=validate.Range(min=1))
    event_type = EventType()
    metrics = MetricsList()
    count_total = Bool(load_default=True)


@endpoint("events.get_task_events", TaskEventsRequest)
def get_task_events(call: Call) -> dict:
    data = call.data
    return call.app.events.reads.task_events(
        call.identity.company, data["task"], data["batch_size"], data["order"], _event_type(data.get("event_type")),
        metric_variants(data.get("metrics")), data["model_events"], data.get("scroll_id"), data["count_total"],
    )


class ScalarMetricDataRequest(TaskRequest):
    metric = Str(required=True)
    scroll_id = Str()
    no_scroll = Bool(load_default=False)


@endpoint("events.get_scalar_metric_data", ScalarMetricDataRequest)
def get_scalar_metric_data(call: Call) -> dict:
    data = call.data
    return call.app.events.reads.scalar_metric_data(
        call.identity.company, data["task"], data["metric"], data["model_events"], data.get("scroll_id"))


class ScalarRawRequest(TaskRequest):
    metric = fields.Nested(MetricVariantsSchema, required=True)
    key = OneOf(KEYS, load_default="iter")
    batch_size = Int()
    count_total = Bool(load_default=False)
    scroll_id = Str()


@endpoint("events.scalar_metrics_iter_raw", ScalarRawRequest, min_version="2.16")
def scalar_metrics_iter_raw(call: Call) -> dict:
    data = call.data
    return scalar_raw(call.app.events.reads, call.identity.company, data["task"], data["metric"]["metric"],
                      data["metric"].get("variants"), data["key"], data.get("batch_size"), data["count_total"],
                      data.get("scroll_id"), data["model_events"])


# -- scalar charts ---------------------------------------------------------------------------------------------
class HistogramOptions(RequestSchema):
    samples = Int(validate=validate.Range(min=0, max=MAX_SAMPLES))
    key = OneOf(KEYS, load_default="iter")
    metrics = MetricsList()
    model_events = Bool(load_default=False)


class ScalarHistogramRequest(HistogramOptions):
    task = Str(required=True)


@endpoint("events.scalar_metrics_iter_histogram", ScalarHistogramRequest)
def scalar_metrics_iter_histogram(call: Call) -> dict:
    data = call.data
    return call.app.events.histograms.task(
        call.identity.company, data["task"], data["key"], clamp_samples(data.get("samples")),
        metric_variants(data.get("metrics")), data["model_events"])


class MultiTaskHistogramRequest(HistogramOptions):
    tasks = TaskIds(required=True, validate=validate.Length(max=MAX_COMPARED_TASKS))


@endpoint("events.multi_task_scalar_metrics_iter_histogram", MultiTaskHistogramRequest)
def multi_task_scalar_metrics_iter_histogram(call: Call) -> dict:
    data = call.data
    return {"metrics": call.app.events.histograms.compare(
        call.identity.company, data["tasks"], data["key"], clamp_samples(data.get("samples")),
        metric_variants(data.get("metrics")), data["model_events"])}


class TasksRequest(RequestSchema):
    tasks = TaskIds(required=True)
    model_events = Bool(load_default=False)


class SingleValuesRequest(TasksRequest):
    metrics = MetricsList()


@endpoint("events.get_task_single_value_metrics", SingleValuesRequest)
def get_task_single_value_metrics(call: Call) -> dict:
    data = call.data
    return {"tasks": call.app.events.reads.single_value_metrics(
        call.identity.company, data["tasks"], data["model_events"], metric_variants(data.get("metrics")))}


class PlainTaskRequest(RequestSchema):
    task = Str(required=True)


@endpoint("events.get_task_latest_scalar_values", PlainTaskRequest)
def get_task_latest_scalar_values(call: Call) -> dict:
    return call.app.events.reads.latest_scalar_values(call.identity.company, call.data["task"])


# -- metric lists and vectors ----------------------------------------------------------------------------------
@endpoint("events.get_scalar_metrics_and_variants", TaskRequest)
def get_scalar_metrics_and_variants(call: Call) -> dict:
    return {"metrics": call.app.events.reads.metrics_and_variants(
        call.identity.company, call.data["task"], "training_stats_scalar", call.data["model_events"])}


@endpoint("events.get_vector_metrics_and_variants", TaskRequest)
def get_vector_metrics_and_variants(call: Call) -> dict:
    return {"metrics": call.app.events.reads.metrics_and_variants(
        call.identity.company, call.data["task"], "training_stats_vector", call.data["model_events"])}


class VectorHistogramRequest(TaskRequest):
    metric = Str(required=True)
    variant = Str(required=True)


@endpoint("events.vector_metrics_iter_histogram", VectorHistogramRequest)
def vector_metrics_iter_histogram(call: Call) -> dict:
    data = call.data
    return call.app.events.reads.vector_iterations(
        call.identity.company, data["task"], data["metric"], data["variant"], data["model_events"])


class TaskMetricsRequest(TasksRequest):
    event_type = EventType(required=True)


@endpoint("events.get_task_metrics", TaskMetricsRequest)
def get_task_metrics(call: Call) -> dict:
    data = call.data
    return {"metrics": call.app.events.reads.task_metrics(
        call.identity.company, data["tasks"], _event_type(data["event_type"]), data["model_events"])}


class MultiTaskMetricsRequest(TasksRequest):
    event_type = EventType()


@endpoint("events.get_multi_task_metrics", MultiTaskMetricsRequest, min_version="2.28")
def get_multi_task_metrics(call: Call) -> dict:
    data, company = call.data, call.identity.company
    reads = call.app.events.reads
    reads.require(company, data["tasks"], data["model_events"], fields=())
    found: dict[str, set[str]] = {}
    for (_, metric, variant) in reads.series(company, data["tasks"], _event_type(data.get("event_type")),
                                            data["model_events"]):
        found.setdefault(metric, set()).add(variant)
    return {"metrics": [{"metric": m, "variants": sorted(v)} for m, v in sorted(found.items())]}


# -- plots and debug images ------------------------------------------------------------------------------------
class TaskPlotsRequest(TaskRequest):
    iters = Int(load_default=1, validate=validate.Range(min=1))
    scroll_id = Str()
    no_scroll = Bool(load_default=False)
    metrics = MetricsList()


@endpoint("events.get_task_plots", TaskPlotsRequest)
def get_task_plots(call: Call) -> dict:
    data = call.data
    return task_plots(call.app.events.reads, call.identity.company, data["task"], data["iters"],
                      metric_variants(data.get("metrics")), data["model_events"])


class MultiTaskPlotsRequest(TasksRequest):
    iters = Int(load_default=1, validate=validate.Range(min=1))
    scroll_id = Str()
    no_scroll = Bool(load_default=False)
    last_iters_per_task_metric = Bool(load_default=True)
    metrics = MetricsList()


@endpoint("events.get_multi_task_plots", MultiTaskPlotsRequest)
def get_multi_task_plots(call: Call) -> dict:
    data = call.data
    return multi_task_plots(call.app.events.reads, call.identity.company, data["tasks"], data["iters"],
                            data["last_iters_per_task_metric"], metric_variants(data.get("metrics")),
                            data["model_events"])


class MetricEventsRequest(RequestSchema):
    metrics = fields.List(fields.Nested(TaskMetricSchema), required=True, validate=validate.Length(min=1))
    iters = Int(load_default=1, validate=validate.Range(min=1))
    navigate_earlier = Bool(load_default=True)
    refresh = Bool(load_default=False)
    scroll_id = Str()
    model_events = Bool(load_default=False)


def _task_metrics(items: list[dict]) -> dict[str, dict[str, list[str]]]:
    """``[{task, metric, variants}]`` as ``{task: {metric: variants}}``; a task listed without a metric means
    all of its metrics."""
    wanted: dict[str, dict[str, list[str]]] = {}
    everything: set[str] = set()
    for item in items:
        metrics = wanted.setdefault(item["task"], {})
        if item.get("metric") is None:
            everything.add(item["task"])
        else:
            metrics.setdefault(item["metric"], []).extend(item.get("variants") or [])
    return {task: ({} if task in everything else metrics) for task, metrics in wanted.items()}


def _metric_pages(call: Call, pages) -> dict:
    data = call.data
    return pages.get(call.identity.company, _task_metrics(data["metrics"]), data["iters"], data["navigate_earlier"],
                     data["refresh"], data.get("scroll_id"), data["model_events"])


class LegacyImagesRequest(TaskRequest):
    iters = Int(load_default=1, validate=validate.Range(min=1))
    scroll_id = Str()


# Before 2.7: one task's images of its latest iterations, scrolled (bll/event_legacy.py).
@endpoint("events.debug_images", LegacyImagesRequest)
def debug_images_of_task(call: Call) -> dict:
    data = call.data
    return event_legacy.debug_images(call.app.events.reads, call.identity.company, data["task"], data["iters"],
                                     data.get("scroll_id"), data["model_events"])


@endpoint("events.debug_images", MetricEventsRequest, min_version="2.7")
def debug_images(call: Call) -> dict:
    return _metric_pages(call, call.app.events.image_pages)


@endpoint("events.plots", MetricEventsRequest, min_version="2.20")
def plots(call: Call) -> dict:
    return _metric_pages(call, call.app.events.plot_pages)


class SampleRequest(TaskRequest):
    metric = Str(required=True)
    iteration = Int()
    refresh = Bool(load_default=False)
    scroll_id = Str()
    navigate_current_metric = Bool(load_default=True)


class VariantSampleRequest(SampleRequest):
    variant = Str(required=True)


class NextSampleRequest(TaskRequest):
    scroll_id = Str(required=True)
    navigate_earlier = Bool(load_default=True)
    next_iteration = Bool(load_default=False)


@endpoint("events.get_debug_image_sample", VariantSampleRequest, min_version="2.12")
def get_debug_image_sample(call: Call) -> dict:
    data = call.data
    return call.app.events.image_samples.first(
        call.identity.company, data["task"], data["metric"], data["variant"], data.get("iteration"),
        data.get("scroll_id"), data["navigate_current_metric"], data["model_events"])


@endpoint("events.next_debug_image_sample", NextSampleRequest, min_version="2.12")
def next_debug_image_sample(call: Call) -> dict:
    data = call.data
    return call.app.events.image_samples.next(call.identity.company, data["task"], data["scroll_id"],
                                              data["navigate_earlier"], data["next_iteration"])


@endpoint("events.get_plot_sample", SampleRequest, min_version="2.20")
def get_plot_sample(call: Call) -> dict:
    data = call.data
    return call.app.events.plot_samples.first(
        call.identity.company, data["task"], data["metric"], "", data.get("iteration"), data.get("scroll_id"),
        data["navigate_current_metric"], data["model_events"])


@endpoint("events.next_plot_sample", NextSampleRequest, min_version="2.20")
def next_plot_sample(call: Call) -> dict:
    data = call.data
    return call.app.events.plot_samples.next(call.identity.company, data["task"], data["scroll_id"],
                                             data["navigate_earlier"], data["next_iteration"])


class ClearScrollRequest(RequestSchema):
    scroll_id = Str()


# Scroll ids carry their own state (bll/event_scroll.py): there is nothing to release.
@endpoint("events.clear_scroll", ClearScrollRequest, min_version="2.18")
def clear_scroll(call: Call) -> dict:
    return {}


# -- deleting --------------------------------------------------------------------------------------------------
class DeleteForTaskRequest(RequestSchema):
    task = Str(required=True)
    allow_locked = Bool(load_default=False)


@endpoint("events.delete_for_task", DeleteForTaskRequest)
def delete_for_task(call: Call) -> dict:
    data = call.data
    return {"deleted": call.app.events.reads.delete_for(call.identity.company, data["task"], False,
                                                         data["allow_locked"])}


class DeleteForModelRequest(RequestSchema):
    model = Str(required=True)
    allow_locked = Bool(load_default=False)


@endpoint("events.delete_for_model", DeleteForModelRequest, min_version="2.22")
def delete_for_model(call: Call) -> dict:
    data = call.data
    return {"deleted": call.app.events.reads.delete_for(call.identity.company, data["model"], True,
                                                         data["allow_locked"])}



class ClearTaskLogRequest(RequestSchema):
    task = Str(required=True)
    allow_locked = Bool(load_default=False)
    threshold_sec = Int(validate=validate.Range(min=0))
    include_metrics = StrList()  # 2.30
    exclude_metrics = StrList()  # 2.30


@endpoint("events.clear_task_log", ClearTaskLogRequest, min_version="2.19")
def clear_task_log(call: Call) -> dict:
    data = call.data
    return {"deleted": call.app.events.reads.clear_log(
        call.identity.company, data["task"], data["allow_locked"], data.get("threshold_sec"),
        data.get("include_metrics"), data.get("exclude_metrics"))}


# -- the web app's reads (Trackside extensions) ---------------------------------------------------------------
class DownsampledRequest(RequestSchema):
    task = Str()
    tasks = TaskIds(validate=validate.Length(max=MAX_COMPARED_TASKS))
    metrics = MetricsList()
    key = OneOf(DOWNSAMPLED_KEYS, load_default="iter")
    points = Int(load_default=DEFAULT_POINTS, validate=validate.Range(min=MIN_POINTS, max=MAX_POINTS))
    x_min = Float(allow_nan=False)
    x_max = Float(allow_nan=False)
    model_events = Bool(load_default=False)


@endpoint("events.scalar_metrics_iter_downsampled", DownsampledRequest, min_version="2.31")
def scalar_metrics_iter_downsampled(call: Call) -> dict:
    """Scalar charts downsampled on the server (M4: each bucket's first, last, min and max points), for one
    task (``task``) or compared tasks (``tasks``); ``x_min``/``x_max`` zoom (bll/event_downsampled.py)."""
    data, company = call.data, call.identity.company
    task, tasks = data.get("task"), data.get("tasks")
    if task is None and tasks is None:
        raise errors.MissingRequiredFields("task or tasks is required", fields=["task", "tasks"])
    if task is not None and tasks is not None:
        raise errors.ValidationError("give either task or tasks, not both", fields=["task", "tasks"])
    x_min, x_max = data.get("x_min"), data.get("x_max")
    if x_min is not None and x_max is not None and x_min > x_max:
        raise errors.ValidationError("x_min is greater than x_max", x_min=x_min, x_max=x_max)
    options = dict(key=data["key"], points=data["points"], metrics=metric_variants(data.get("metrics")),
                   x_min=x_min, x_max=x_max, model_events=data["model_events"])
    if task is not None:
        return call.app.events.downsampled.task(company, task, **options)
    return call.app.events.downsampled.compare(company, tasks, **options)


class LogLinesRequest(RequestSchema):
    task = Str(required=True)
    offset = Int(load_default=0, validate=validate.Range(min=0))
    from_end = Bool(load_default=False)
    limit = Int(load_default=DEFAULT_LOG_LIMIT, validate=validate.Range(min=1, max=MAX_LOG_LIMIT))


@endpoint("events.get_task_log_lines", LogLinesRequest, min_version="2.31")
def get_task_log_lines(call: Call) -> dict:
    """A window of a task's log by line position, or its last lines (bll/event_log_lines.py)."""
    data = call.data
    return call.app.events.log_lines.lines(call.identity.company, data["task"], data["offset"], data["from_end"],
                                           data["limit"])


class SearchLogRequest(RequestSchema):
    task = Str(required=True)
    text = Str(required=True, validate=validate.Length(min=1))
    regex = Bool(load_default=False)
    case_sensitive = Bool(load_default=False)
    from_offset = Int(validate=validate.Range(min=0))
    direction = OneOf(("next", "prev"), load_default="next")
    count = Bool(load_default=False)


@endpoint("events.search_task_log", SearchLogRequest, min_version="2.31")
def search_task_log(call: Call) -> dict:
    """The next (or previous) line of the whole log matching a text or regular expression."""
    data = call.data
    return call.app.events.log_lines.search(
        call.identity.company, data["task"], data["text"], data["regex"], data["case_sensitive"],
        data.get("from_offset"), data["direction"], data["count"])
