// What the workers and queues pages share: the time range of their charts, the chart interval for it, a
// plotly time-series chart, "12s ago" times, and polling that runs only while the page is shown.
import {fmtDate, fmtDuration, h} from '../dom.js';
import {loadPlotly} from './plotly.js';

const HOUR = 3600;
// The reference app's choices, and the last hour (the default: a live page is mostly about now).
export const RANGES = [
  [HOUR, '1 hour'], [3 * HOUR, '3 hours'], [6 * HOUR, '6 hours'], [12 * HOUR, '12 hours'], [24 * HOUR, '1 day'],
  [7 * 24 * HOUR, '1 week'], [30 * 24 * HOUR, '1 month'],
];
const RANGE_KEY = 'trackside.orchestration.range';
// The server's buckets are at least this wide (services.workers.min_chart_interval_sec).
const MIN_INTERVAL_SEC = 40;
export const POLL_MS = 5000;

export function savedRange() {
  const value = Number(localStorage.getItem(RANGE_KEY));
  return RANGES.some(([seconds]) => seconds === value) ? value : HOUR;
}

/** A labelled <select> of RANGES; the choice is remembered for both pages. */
export function rangeSelect(id, value, onChange) {
  const select = h('select', {id, onchange: () => {
    localStorage.setItem(RANGE_KEY, select.value);
    onChange(Number(select.value));
  }}, RANGES.map(([seconds, label]) => h('option', {value: String(seconds), selected: seconds === value}, label)));
  return h('span', {class: 'control'}, h('label', {for: id}, 'Time range'), select);
}

/** Seconds per point: about one point per 1.25 pixels, at most 1000 points, never under the server's minimum. */
export function chartInterval(rangeSec, widthPx) {
  const points = Math.min(0.8 * (widthPx || 1000), 1000);
  return Math.max(Math.floor(rangeSec / Math.max(points, 10)), MIN_INTERVAL_SEC);
}

/** The request window: the last `rangeSec` seconds, in epoch seconds. */
export function timeWindow(rangeSec) {
  const now = Math.floor(Date.now() / 1000);
  return {from_date: now - rangeSec, to_date: now};
}

/**
 * Draw series over time into `plot` (a <div>): series [{name, dates (epoch ms), values}], `yTitle`, optional
 * `yFormat` (plotly tickformat) and `hoverFormat`. The x axis spans the whole requested window, so an idle
 * stretch shows as such. Sets data-drawn / data-draws on the element (tests wait on them).
 */
export async function drawTimeChart(plot, {series, yTitle, windowSec, rangeMode = 'tozero', yFormat,
  hoverSuffix = ''}) {
  const Plotly = await loadPlotly();
  const palette = ['#2f6fed', '#e4572e', '#17a398', '#f3a712', '#8e44ad', '#4caf50'];
  // Few points (a new worker, gaps between buckets without reports): markers, or a lone point is invisible.
  const sparse = (s) => s.values.filter((v) => v !== null && v !== undefined).length <= 60;
  const traces = series.map((s, i) => ({
    type: 'scatter', mode: sparse(s) ? 'lines+markers' : 'lines', marker: {size: 4}, name: s.name,
    x: s.dates.map((ms) => new Date(ms)), y: s.values, line: {color: palette[i % palette.length], width: 1.6,
      shape: s.shape || 'linear'},
    hovertemplate: `${s.name}: %{y}${hoverSuffix}<extra></extra>`,
  }));
  const layout = {
    height: 240, margin: {l: 56, r: 12, t: 8, b: 36},
    xaxis: {type: 'date', ...(windowSec ? {range: [new Date(windowSec.from_date * 1000),
      new Date(windowSec.to_date * 1000)]} : {})},
    yaxis: {title: {text: yTitle, font: {size: 11}}, rangemode: rangeMode, automargin: true,
      ...(yFormat ? {tickformat: yFormat} : {})},
    legend: {orientation: 'h', y: -0.22, font: {size: 11}}, showlegend: series.length > 1,
    hovermode: 'x unified', paper_bgcolor: '#fff', plot_bgcolor: '#fff',
    uirevision: yTitle, // a refresh keeps the user's zoom
  };
  await Plotly.react(plot, traces, layout, {displaylogo: false, responsive: true,
    modeBarButtonsToRemove: ['lasso2d', 'select2d']});
  plot.dataset.drawn = 'true';
  plot.dataset.draws = String(Number(plot.dataset.draws || 0) + 1);
}

/** A chart card: a <figure> with its title as a heading, the plot, and a line for "No data" or an error. */
export function chartCard(title, id) {
  const plot = h('div', {class: 'chart-plot stats-plot'});
  const note = h('p', {class: 'chart-status muted'});
  const headingId = `${id}-title`;
  const element = h('figure', {class: 'chart-card stats-card', 'aria-labelledby': headingId, dataset: {chart: id}},
    h('h3', {id: headingId}, title), plot, note);
  return {element, plot, note};
}

/** "12s ago" (a date's full text in its title attribute is the caller's). */
export function timeAgo(value) {
  if (!value) return '';
  const ms = Date.now() - new Date(value).getTime();
  if (Number.isNaN(ms)) return '';
  return ms < 1000 ? 'just now' : `${fmtDuration(ms / 1000)} ago`;
}

export function agoCell(value) {
  return value ? h('time', {class: 'ago', datetime: new Date(value).toISOString(), title: fmtDate(value)},
    timeAgo(value)) : '—';
}

/** How long since `value` ("1m 05s"), kept current by updateAgo like agoCell. */
export function sinceCell(value, title) {
  const since = (ms) => fmtDuration(Math.max(0, Date.now() - ms) / 1000);
  return h('time', {class: 'since', datetime: new Date(value).toISOString(), title}, since(new Date(value).getTime()));
}

/** Bring every agoCell and sinceCell under `root` up to now (rows whose data did not change are not redrawn). */
export function updateAgo(root) {
  for (const el of root.querySelectorAll('time.ago')) el.textContent = timeAgo(el.getAttribute('datetime'));
  for (const el of root.querySelectorAll('time.since')) {
    el.textContent = fmtDuration(Math.max(0, Date.now() - new Date(el.getAttribute('datetime')).getTime()) / 1000);
  }
}

/**
 * Run `tick` every `ms` while the page is visible (and once when it becomes visible again); a tick still
 * running is not started twice. Returns stop().
 */
export function poll(tick, ms = POLL_MS) {
  let running = false;
  let stopped = false;
  const run = async () => {
    if (stopped || running || document.visibilityState !== 'visible') return;
    running = true;
    try {
      await tick();
    } catch (error) {
      console.warn('refresh failed', error);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(run, ms);
  const onVisible = () => { if (document.visibilityState === 'visible') run(); };
  document.addEventListener('visibilitychange', onVisible);
  return () => {
    stopped = true;
    clearInterval(timer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}

/** Workers | Queues: the two pages of the orchestration section. */
export function sectionLinks(current) {
  return h('nav', {class: 'section-links', 'aria-label': 'Workers and queues'},
    h('a', {href: '/workers-and-queues/workers', 'aria-current': current === 'workers' ? 'page' : null}, 'Workers'),
    h('a', {href: '/workers-and-queues/queues', 'aria-current': current === 'queues' ? 'page' : null}, 'Queues'));
}
