"""Browser time for bench/bench_webapp.py: Playwright driving Debian's Chromium (headless, the tests' launch
arguments), signed in through the real /login form, timing what a person waits for:

- table: navigation to /projects/<p>/tasks until the first task row (with its link) is visible;
- chart: navigation to the task's full-screen scalars until the first chart holds its plotly traces;
- zoom: a zoom on that chart (Plotly.relayout, as a drag does) until the re-queried points are drawn;
- console: navigation to the full-screen console until the log's last line is visible;
- console search: Enter in the console's search box until the hit line (in the middle of the log) is shown;
- compare: navigation to compare-tasks;ids=.../scalars/graph until the first chart holds a trace per task.

Elements are found by role and accessible name (a chart is a figure captioned with its title); plotly's own
``.scatterlayer .trace`` nodes in its plot say that it is drawn.
"""
from __future__ import annotations

import re
import time

from support.browser import launch_chromium, new_page, sign_in_page
from webapp_seed import LOG_NEEDLE

TIMEOUT_MS = 180_000  # a page that takes longer fails the figure


def browser_figures(bench, web, which: str, data) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = new_page(browser, web.url)
            page.set_default_timeout(TIMEOUT_MS)
            sign_in_page(page, web.admin_user, web.admin_password)
            figures(bench, page, which, data)
        finally:
            browser.close()


def figures(bench, page, which: str, data) -> None:
    sizes = bench.sizes
    log_lines = sizes.log_lines if which == "big" else sizes.base_log_lines
    per_series = (sizes.points if which == "big" else sizes.base_points) // sizes.series
    task_path = f"/projects/{data.series_project}/tasks"

    def table() -> None:
        page.goto(f"/projects/{data.project}/tasks")
        first = page.get_by_role("table", name="Tasks").get_by_role("row").nth(1)
        first.get_by_role("link").first.wait_for()

    bench.record("browser: table first rows visible", which, table)

    def chart_drawn() -> object:
        page.goto(f"{task_path}/{data.scalar_task}/output/metrics/scalar")
        return wait_traces(page, "metric_0", sizes.series // 2)

    bench.record("browser: scalar chart drawn (traces in the DOM)", which, chart_drawn, 1.0)

    def zoom() -> float:
        chart = chart_drawn()
        low, high = per_series * 4 // 10, per_series * 5 // 10
        t0 = time.perf_counter()
        chart.evaluate("(el, r) => window.Plotly.relayout(el, {'xaxis.range': r})", [low, high])
        # Drawn again from the re-queried range: the first trace now starts inside it.
        page.wait_for_function("([el, low]) => el.data && el.data.length && el.data[0].x.length"
                               " && el.data[0].x[0] >= low", arg=[chart.element_handle(), low - 1],
                               timeout=TIMEOUT_MS)
        return time.perf_counter() - t0

    bench.record_timed("browser: zoom re-query drawn (incl. 120 ms debounce)", which, zoom, 0.5)

    last_line = re.compile(rf"step\s+{log_lines - 1}\b")

    def console() -> object:
        page.goto(f"{task_path}/{data.log_task}/output/log")
        region = page.get_by_role("region", name="Console output")
        region.get_by_text(last_line).wait_for()
        return region

    bench.record("browser: console first screen (last line visible)", which, console, 1.0)

    def console_search() -> float:
        region = console()
        box = page.get_by_label("Search console")
        box.fill(LOG_NEEDLE)
        t0 = time.perf_counter()
        box.press("Enter")
        region.get_by_text(re.compile(rf"{LOG_NEEDLE} at step {data.log_needle}\b")).wait_for()
        return time.perf_counter() - t0

    bench.record_timed("browser: console search hit shown", which, console_search, 1.0)

    def compare() -> None:
        ids = ",".join(data.compare_ids)
        page.goto(f"/projects/{data.compare_project}/compare-tasks;ids={ids}/scalars/graph")
        wait_traces(page, "metric_0", len(data.compare_ids))

    bench.record("browser: compare scalars drawn (a trace per task)", which, compare, 2.0)


def wait_traces(page, title: str, count: int):
    """The plot of the chart titled ``title`` (a figure captioned so) once plotly has drawn at least ``count``
    traces in it; its locator."""
    chart = page.get_by_role("figure", name=title, exact=True).locator(".chart-plot")
    chart.wait_for()
    page.wait_for_function("([el, n]) => el.querySelectorAll('.scatterlayer .trace').length >= n",
                           arg=[chart.element_handle(), count], timeout=TIMEOUT_MS)
    return chart

