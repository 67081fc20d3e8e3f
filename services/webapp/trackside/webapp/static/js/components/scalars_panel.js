// Scalar charts of one task (or model), or of many tasks overlaid (compare). Data comes from
// events.scalar_metrics_iter_downsampled: each series cut to about the chart's pixel width on the server, keeping
// each bucket's first, last, min and max point (M4), so a line drawn through them shows every spike. Zooming
// re-queries the visible range (full resolution once the range holds fewer points than pixels). Charts are drawn
// only when scrolled into view, so hundreds of metrics stay fast. Single values are a table above the charts.
import {api} from '../api.js';
import {errorBox, fmtNumber, h, replace} from '../dom.js';
import {loadPlotly} from './plotly.js';
import {SMOOTHING, smooth, windowFor} from './smoothing.js';

const SETTINGS_KEY = 'trackside.scalars.settings';
const DEFAULTS = {groupBy: 'metric', xAxis: 'iter', smoothing: 'none', amount: 0.6, log: false, filter: ''};
const PALETTE = ['#2f6fed', '#e4572e', '#17a398', '#f3a712', '#8e44ad', '#4caf50', '#c2185b', '#00838f',
  '#6d4c41', '#546e7a', '#ff7043', '#7cb342', '#5c6bc0', '#ab47bc', '#26a69a', '#ef5350'];
const LIVE_MS = 5000;
const SINGLE_VALUE_ITER = -(2 ** 31); // the iteration Logger.report_single_value reports at

function loadSettings() {
  try {
    return {...DEFAULTS, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}')};
  } catch {
    return {...DEFAULTS};
  }
}

const KEY_OF = {iter: 'iter', relative: 'timestamp', wall: 'timestamp'};
const X_TITLE = {iter: 'Iteration', relative: 'Relative time (s)', wall: 'Wall time'};

/** Plotly's date-axis range text ("2024-01-31 12:00:00.123", UTC) or a number as epoch milliseconds. */
function dateMs(value) {
  if (typeof value === 'number') return value;
  const text = String(value).replace(' ', 'T');
  return Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`);
}

/** One chart: a metric (all its variants) or one series. */
function chartCards(metrics, groupBy) {
  const cards = [];
  for (const {metric, variants} of metrics) {
    if (groupBy === 'metric') cards.push({metric, variants, title: metric});
    else for (const variant of variants) cards.push({metric, variants: [variant], title: `${metric} / ${variant}`});
  }
  return cards;
}

function singleValuesTable(rows, ids, names) {
  if (!rows.length) return null;
  const compare = ids.length > 1;
  const byKey = new Map();
  for (const {task, values} of rows) {
    for (const v of values) {
      const key = `${v.metric}\u0000${v.variant}`;
      if (!byKey.has(key)) byKey.set(key, {metric: v.metric, variant: v.variant, values: {}});
      byKey.get(key).values[task] = v.value;
    }
  }
  const columns = compare ? ids : [ids[0]];
  return h('section', {class: 'panel single-values', 'aria-labelledby': 'single-values-title'},
    h('h2', {id: 'single-values-title'}, 'Single values'),
    h('div', {class: 'table-wrap'}, h('table', {class: 'data-table', 'aria-label': 'Single values'},
      h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Metric'), h('th', {scope: 'col'}, 'Variant'),
        columns.map((id) => h('th', {scope: 'col'}, compare ? names.get(id) || id : 'Value')))),
      h('tbody', {}, [...byKey.values()].map((row) => h('tr', {},
        h('th', {scope: 'row'}, row.metric), h('td', {}, row.variant),
        columns.map((id) => h('td', {class: 'num'}, fmtNumber(row.values[id])))))))));
}

/**
 * mountScalars(container, {ids, modelEvents, isRunning, names, fixed}) -> cleanup.
 * ids: one task (model) id, or several to overlay (compare); names: optional Map id -> name for compare legends.
 * fixed: {metrics: [{metric, variants}], xAxis, hideLegend, bars} charts just those series without the controls
 * and single values (an application dashboard's element).
 */
export function mountScalars(container, {ids, modelEvents = false, isRunning = () => false, names = new Map(),
  fixed = null}) {
  const compare = ids.length > 1;
  let settings = fixed ? {...DEFAULTS, xAxis: fixed.xAxis || 'iter'} : loadSettings();
  let destroyed = false;
  let cards = [];
  let metrics = [];
  const taskStart = new Map(); // task id -> its first timestamp (relative time's zero)
  const colors = new Map();

  const colorOf = (key) => {
    if (!colors.has(key)) colors.set(key, PALETTE[colors.size % PALETTE.length]);
    return colors.get(key);
  };

  // -- controls -------------------------------------------------------------------------------------------------
  const select = (id, label, options, value, onchange) => {
    const el = h('select', {id, onchange: () => onchange(el.value)},
      options.map(([v, text]) => h('option', {value: v, selected: v === value}, text)));
    return h('span', {class: 'control'}, h('label', {for: id}, label), el);
  };
  const amountLabel = h('output', {for: 'scalars-smoothing-amount', class: 'amount-value'});
  const amount = h('input', {type: 'range', id: 'scalars-smoothing-amount', min: '0', max: '0.99', step: '0.01',
    value: String(settings.amount)});
  const showAmount = () => {
    amountLabel.textContent = settings.smoothing === 'ema' ? settings.amount.toFixed(2)
      : `${windowFor(settings.amount)} points`;
    amount.disabled = settings.smoothing === 'none';
  };
  amount.addEventListener('input', () => { update({amount: Number(amount.value)}, false); });
  const logBox = h('input', {type: 'checkbox', id: 'scalars-log', checked: settings.log,
    onchange: () => update({log: logBox.checked}, false)});
  const filterInput = h('input', {type: 'search', id: 'scalars-filter', value: settings.filter,
    placeholder: 'Filter metrics'});
  filterInput.addEventListener('input', () => update({filter: filterInput.value}, 'layout'));
  const controls = h('div', {class: 'toolbar scalar-controls', role: 'group', 'aria-label': 'Chart settings'},
    h('span', {class: 'control'}, h('label', {for: filterInput.id}, 'Metrics'), filterInput),
    select('scalars-group', 'Group by', [['metric', 'Metric'], ['series', 'Series (one chart each)']],
      settings.groupBy, (v) => update({groupBy: v}, 'layout')),
    select('scalars-x', 'X axis', [['iter', 'Iterations'], ['relative', 'Relative time'], ['wall', 'Wall time']],
      settings.xAxis, (v) => update({xAxis: v}, 'data')),
    select('scalars-smoothing', 'Smoothing', SMOOTHING.map((s) => [s.id, s.label]), settings.smoothing,
      (v) => update({smoothing: v}, false)),
    h('span', {class: 'control'}, h('label', {for: amount.id}, 'Smoothing amount'), amount, amountLabel),
    h('span', {class: 'control check'}, logBox, h('label', {for: logBox.id}, 'Log scale')));
  showAmount();

  const singles = h('div');
  const grid = h('div', {class: 'chart-grid'});
  const note = h('p', {class: 'muted'}, 'Loading scalars…');
  container.append(...(fixed ? [note, grid] : [controls, singles, note, grid]));

  function update(change, what) {
    settings = {...settings, ...change};
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
    showAmount();
    if (what === 'layout') buildCards();
    else for (const card of cards) {
      if (what === 'data') { card.zoom = null; forget(card); }
      card.dirty = true;
      if (card.visible) drawCard(card);
    }
  }

  // -- data ------------------------------------------------------------------------------------------------------
  // One request per chart, all tasks in it. (One request for every chart in view was measured slower: the
  // server works through a request's series one after the other, while separate requests share its workers.)
  function fetchCard(card) {
    return request([card]).then((found) => found.get(card)).finally(() => firstBatchDone());
  }

  /** One downsampled request for the cards (zoomed: one card and its range) -> Map(card -> series). */
  async function request(cards) {
    const width = Math.max(200, ...cards.map((card) => Math.round(card.plot.clientWidth || 600)));
    const zoom = cards.length === 1 ? cards[0].zoom : null;
    // Zoomed: up to 4 points a pixel, so a range of a few thousand points comes back whole (exact).
    const points = Math.min(10000, Math.max(16, zoom ? width * 4 : width));
    const wanted = new Map();
    for (const card of cards) {
      if (!wanted.has(card.metric)) wanted.set(card.metric, new Set());
      for (const variant of card.variants) wanted.get(card.metric).add(variant);
    }
    const body = {metrics: [...wanted].map(([metric, variants]) => ({metric, variants: [...variants]})),
      key: KEY_OF[settings.xAxis], points, model_events: modelEvents};
    if (compare) body.tasks = ids; else body.task = ids[0];
    if (zoom) Object.assign(body, zoom);
    const answer = await api('events.scalar_metrics_iter_downsampled', body);
    const result = new Map();
    for (const card of cards) result.set(card, seriesOf(answer, card));
    return result;
  }

  function seriesOf(answer, card) {
    const found = answer.metrics?.[card.metric] || {};
    const series = [];
    for (const variant of Object.keys(found).sort()) {
      if (!card.variants.includes(variant)) continue;
      if (compare) {
        for (const id of ids) {
          const s = found[variant][id];
          if (s) series.push({...s, task: id, variant, name: s.name || names.get(id) || id});
        }
      } else {
        series.push({...found[variant], task: ids[0], variant});
      }
    }
    if (!card.zoom && settings.xAxis === 'relative') {
      for (const s of series) {
        if (s.x.length && !(taskStart.get(s.task) <= s.x[0])) taskStart.set(s.task, s.x[0]);
      }
    }
    return series;
  }

  function traces(card) {
    const out = [];
    const smoothing = settings.smoothing !== 'none' && settings.amount > 0;
    card.data.forEach((s) => {
      const key = compare ? s.task : s.variant;
      const color = colorOf(key);
      let x = s.x;
      if (settings.xAxis === 'relative') {
        const zero = taskStart.get(s.task) ?? s.x[0];
        x = s.x.map((v) => (v - zero) / 1000);
      }
      const name = compare ? (card.variants.length > 1 ? `${s.name} · ${s.variant}` : s.name) : s.variant;
      const dash = compare ? ['solid', 'dot', 'dash', 'dashdot'][card.variants.indexOf(s.variant) % 4] : 'solid';
      const base = {type: fixed?.bars ? 'bar' : 'scatter', mode: s.x.length === 1 ? 'markers' : 'lines', x, name,
        legendgroup: name, marker: {color},
        hovertemplate: `${name}<br>%{x}: %{y}<extra></extra>`};
      // Smoothed: the raw line stays, faint and without hover, under the smoothed one.
      const raw = {...base, y: s.y, line: {color, width: smoothing ? 1 : 1.5, dash}, opacity: smoothing ? 0.3 : 1,
        showlegend: !smoothing, meta: {task: s.task, variant: s.variant, raw: true}};
      if (smoothing) { delete raw.hovertemplate; raw.hoverinfo = 'skip'; }
      out.push(raw);
      if (smoothing) {
        out.push({...base, y: smooth(s.y, settings.smoothing, settings.amount), line: {color, width: 1.8, dash},
          meta: {task: s.task, variant: s.variant, smoothed: true}});
      }
    });
    return out;
  }

  function layout(card) {
    const label = card.data.find((s) => s.x_axis_label)?.x_axis_label;
    const compareLegend = compare && card.data.length > 6;
    return {
      title: {text: fixed ? '' : card.title, font: {size: 13}, x: 0.01, xanchor: 'left'},
      height: 300, margin: {l: 56, r: compareLegend ? 8 : 16, t: fixed ? 12 : 32, b: 40},
      xaxis: {title: {text: settings.xAxis === 'iter' && label ? label : X_TITLE[settings.xAxis], font: {size: 11}},
        type: settings.xAxis === 'wall' ? 'date' : 'linear', ...(card.range ? {range: card.range} : {}),
        autorange: card.range ? false : true},
      yaxis: {type: settings.log ? 'log' : 'linear', automargin: true},
      legend: compareLegend ? {orientation: 'v', font: {size: 10}} : {orientation: 'h', y: -0.2, font: {size: 11}},
      showlegend: !fixed?.hideLegend && (card.data.length > 1 || compare),
      hovermode: compare ? 'closest' : 'x unified',
      uirevision: `${card.title}|${settings.xAxis}|${settings.log}`,
      paper_bgcolor: '#fff', plot_bgcolor: '#fff',
    };
  }

  /** The card's data no longer answers its settings (zoom, x axis, new points): fetch again when drawn. */
  function forget(card) {
    card.data = null;
    card.generation = (card.generation || 0) + 1;
    card.dirty = true;
  }

  async function drawCard(card) {
    if (destroyed || !card.visible || card.drawing) return;
    card.drawing = true;
    card.dirty = false;
    try {
      // The data and plotly.js (parsed once, ~0.3 s) are awaited together.
      const generation = card.generation;
      const [Plotly, data] = await Promise.all([loadPlotly(), card.data || fetchCard(card)]);
      if (generation !== card.generation) return; // zoomed or changed meanwhile: the finally block redraws
      card.data = data;
      if (destroyed) return;
      card.status.textContent = card.data.some((s) => s.exact === false)
        ? `Downsampled: ${card.data.reduce((n, s) => n + s.x.length, 0).toLocaleString()} of `
          + `${card.data.reduce((n, s) => n + (s.total || 0), 0).toLocaleString()} points; zoom in for full resolution`
        : '';
      if (!card.data.length) {
        replace(card.plot, h('p', {class: 'muted'}, 'No points'));
        card.plotted = false;
        return;
      }
      if (!card.plotted) card.plot.replaceChildren();
      await Plotly.react(card.plot, traces(card), layout(card),
        {displaylogo: false, responsive: true, modeBarButtonsToRemove: ['lasso2d', 'select2d']});
      card.plot.dataset.drawn = 'true';
      card.plot.dataset.draws = String(Number(card.plot.dataset.draws || 0) + 1); // tests and bench wait on it
      if (!card.plotted) {
        card.plotted = true;
        card.plot.on('plotly_relayout', (event) => onZoom(card, event));
      }
    } catch (error) {
      replace(card.plot, errorBox(error));
      card.plotted = false;
    } finally {
      card.drawing = false;
      if (card.dirty && card.visible) drawCard(card);
    }
  }

  // Zooming (or double-click back to the whole range) asks the server for the visible range again.
  function onZoom(card, event) {
    let range = null;
    if (event['xaxis.range[0]'] !== undefined) range = [event['xaxis.range[0]'], event['xaxis.range[1]']];
    else if (Array.isArray(event['xaxis.range'])) range = event['xaxis.range'];
    else if (!event['xaxis.autorange']) return;
    clearTimeout(card.zoomTimer);
    card.zoomTimer = setTimeout(() => {
      if (!range) {
        card.zoom = null;
        card.range = null;
      } else {
        card.range = range;
        let [a, b] = range;
        if (settings.xAxis === 'wall') { a = dateMs(a); b = dateMs(b); }
        if (settings.xAxis === 'relative') {
          const zeros = [...taskStart.values()];
          a = Math.min(...zeros) + a * 1000;
          b = Math.max(...zeros) + b * 1000;
        }
        if (settings.xAxis === 'iter') { a = Math.floor(a); b = Math.ceil(b); }
        card.zoom = {x_min: a, x_max: b};
      }
      forget(card);
      drawCard(card);
    }, 120);
  }

  // -- layout: a card per chart, drawn when it scrolls into view -------------------------------------------------
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const card = entry.target.card;
      if (!card) continue;
      card.visible = entry.isIntersecting;
      if (card.visible && (card.dirty || !card.plotted)) drawCard(card);
    }
  }, {rootMargin: '300px 0px'});

  function buildCards() {
    for (const card of cards) {
      observer.unobserve(card.el);
      if (card.plotted && window.Plotly) window.Plotly.purge(card.plot);
    }
    const wanted = settings.filter.trim().toLowerCase();
    const shown = metrics.filter((m) => !wanted || m.metric.toLowerCase().includes(wanted)
      || m.variants.some((v) => v.toLowerCase().includes(wanted)));
    cards = chartCards(shown, settings.groupBy).map((card) => {
      const plot = h('div', {class: 'chart-plot'});
      const status = h('p', {class: 'chart-status muted'});
      const el = h('figure', {class: 'chart-card', dataset: {metric: card.metric, title: card.title}},
        h('figcaption', {class: 'sr-only'}, card.title), plot, status);
      const made = {...card, el, plot, status, dirty: true, visible: false, plotted: false, data: null, zoom: null};
      el.card = made;
      return made;
    });
    replace(grid, cards.map((c) => c.el));
    note.textContent = cards.length ? '' : (metrics.length ? 'No metric matches the filter' : 'No scalars reported');
    note.hidden = !note.textContent;
    for (const card of cards) observer.observe(card.el);
  }

  // The series to chart. The tasks' (models') last_metrics summary lists every scalar series and is one cheap
  // read; a series whose latest iteration is the single-value one has only single values (a table, no chart).
  // Without a summary (older data) the events store is asked (events.get_multi_task_metrics, slower).
  async function loadMetrics() {
    if (fixed) return fixed.metrics;
    const service = modelEvents ? 'models' : 'tasks';
    const answer = await api(`${service}.get_all_ex`, {id: ids, only_fields: ['id', 'name', 'last_metrics']});
    const found = new Map();
    for (const doc of answer[service] || []) {
      if (doc.name && !names.has(doc.id)) names.set(doc.id, doc.name);
      for (const variants of Object.values(doc.last_metrics || {})) {
        for (const entry of Object.values(variants || {})) {
          if (!entry || entry.metric === undefined || entry.value_iteration === SINGLE_VALUE_ITER) continue;
          if (!found.has(entry.metric)) found.set(entry.metric, new Set());
          found.get(entry.metric).add(entry.variant);
        }
      }
    }
    if (found.size) {
      return [...found.keys()].sort().map((metric) => ({metric, variants: [...found.get(metric)].sort()}));
    }
    const [fromEvents, singles] = await Promise.all([
      api('events.get_multi_task_metrics',
        {tasks: ids, event_type: 'training_stats_scalar', model_events: modelEvents}),
      singleValues,
    ]);
    const singleOnly = new Set();
    for (const {values} of singles) for (const v of values) singleOnly.add(`${v.metric}\u0000${v.variant}`);
    const list = [];
    for (const {metric, variants} of fromEvents.metrics || []) {
      const charted = variants.filter((v) => !singleOnly.has(`${metric}\u0000${v}`));
      if (charted.length) list.push({metric, variants: charted});
    }
    return list;
  }

  // Single values: their own (slower) request, sent once the first chart is in (or after 2 s), so it does
  // not compete with the charts for the server.
  let firstBatchDone;
  const firstBatch = new Promise((resolve) => { firstBatchDone = resolve; setTimeout(resolve, 2000); });
  const singleValues = fixed ? Promise.resolve([]) : firstBatch
    .then(() => api('events.get_task_single_value_metrics', {tasks: ids, model_events: modelEvents}))
    .then((answer) => answer.tasks || []).catch(() => []);

  async function start() {
    singleValues.then((rows) => { if (!destroyed) replace(singles, singleValuesTable(rows, ids, names)); });
    try {
      const list = await loadMetrics();
      if (destroyed) return;
      metrics = list;
      buildCards();
    } catch (error) {
      replace(note, errorBox(error));
    }
  }

  // Live: re-read the metric list and the charts in view (not zoomed ones) while the task runs, and once more
  // after it ended (what it reported after the last tick).
  let wasRunning = isRunning();
  const timer = setInterval(async () => {
    if (destroyed || document.visibilityState !== 'visible') return;
    const running = isRunning();
    const ended = wasRunning && !running;
    wasRunning = running;
    if (!running && !ended) return;
    try {
      const list = await loadMetrics();
      if (destroyed) return;
      const signature = (l) => JSON.stringify(l);
      if (signature(list) !== signature(metrics)) { metrics = list; buildCards(); return; }
      for (const card of cards) {
        if (card.zoom) continue;
        forget(card);
        if (card.visible) drawCard(card);
      }
    } catch (error) {
      console.warn('scalars refresh failed', error);
    }
  }, LIVE_MS);

  loadPlotly().catch(() => {}); // parsed while the series list loads
  start();
  return () => {
    destroyed = true;
    clearInterval(timer);
    observer.disconnect();
    if (window.Plotly) for (const card of cards) if (card.plotted) window.Plotly.purge(card.plot);
  };
}
