// The reported plots (plotly figures from the SDK's plot_str), drawn with plotly.js as reported. One task:
// events.get_task_plots, grouped by metric. Several tasks: events.get_multi_task_plots, each metric/variant with
// the tasks' figures side by side. Figures are drawn when scrolled into view.
import {api, appConfig, fileUrl} from '../api.js';
import {errorBox, h, replace} from '../dom.js';
import {loadPlotly} from './plotly.js';

export function parseFigure(event) {
  try {
    const figure = typeof event.plot_str === 'string' ? JSON.parse(event.plot_str) : (event.plot_str || {});
    return figure && typeof figure === 'object' ? figure : {};
  } catch {
    return {data: [], layout: {title: 'This plot could not be read'}};
  }
}

/** Image sources the SDK pointed at the file server are fetched through /files with the user's token. */
export function rewriteSources(figure, config) {
  for (const image of figure.layout?.images || []) if (image.source) image.source = fileUrl(image.source, config);
  for (const trace of figure.data || []) if (trace.source) trace.source = fileUrl(trace.source, config);
  return figure;
}

function figureCard(event, caption, config, observer) {
  const plot = h('div', {class: 'chart-plot plot-figure'});
  const el = h('figure', {class: 'chart-card plot-card', dataset: {metric: event.metric, variant: event.variant},
    'aria-label': `Plot ${event.metric} / ${event.variant}${caption ? ` · ${caption}` : ''}`},
    plot, h('figcaption', {class: 'muted'}, caption || `${event.variant} · iteration ${event.iter ?? ''}`));
  el.draw = async () => {
    try {
      const Plotly = await loadPlotly();
      const figure = rewriteSources(parseFigure(event), config);
      const layout = {...(figure.layout || {})};
      delete layout.width;
      layout.autosize = true;
      layout.height = layout.height || 360;
      if (!layout.title) layout.title = {text: event.variant, font: {size: 13}};
      layout.margin = {l: 50, r: 20, t: 40, b: 40, ...(layout.margin || {})};
      await Plotly.newPlot(plot, figure.data || [], layout,
        {displaylogo: false, responsive: true, ...(figure.config || {})});
      plot.dataset.drawn = 'true';
    } catch (error) {
      replace(plot, errorBox(error));
    }
  };
  observer.observe(el);
  return el;
}

function lazyObserver() {
  return new IntersectionObserver((entries, obs) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      obs.unobserve(entry.target);
      entry.target.draw();
    }
  }, {rootMargin: '300px 0px'});
}

async function singleTask(id, modelEvents, config, observer) {
  const {plots = []} = await api('events.get_task_plots', {task: id, iters: 1, model_events: modelEvents});
  const byMetric = new Map();
  for (const event of plots) {
    if (!byMetric.has(event.metric)) byMetric.set(event.metric, []);
    byMetric.get(event.metric).push(event);
  }
  return [...byMetric.keys()].sort().map((metric) => h('section', {class: 'plot-group', 'aria-label': metric},
    h('h2', {}, metric),
    h('div', {class: 'chart-grid'}, byMetric.get(metric)
      .sort((a, b) => String(a.variant).localeCompare(String(b.variant)))
      .map((event) => figureCard(event, null, config, observer)))));
}

async function manyTasks(ids, modelEvents, config, observer, names) {
  const {plots = {}} = await api('events.get_multi_task_plots', {tasks: ids, iters: 1, model_events: modelEvents});
  const sections = [];
  for (const metric of Object.keys(plots).sort()) {
    const rows = [];
    for (const variant of Object.keys(plots[metric]).sort()) {
      const perTask = plots[metric][variant];
      const cells = [];
      for (const id of ids) {
        const iterations = perTask[id];
        if (!iterations) continue;
        const latest = Object.keys(iterations).sort((a, b) => Number(b) - Number(a))[0];
        const entry = iterations[latest];
        for (const event of entry.plots || []) {
          const caption = `${entry.name || names.get(id) || id} · iteration ${latest}`;
          cells.push(figureCard(event, caption, config, observer));
        }
      }
      rows.push(h('div', {class: 'plot-variant'}, h('h3', {}, variant), h('div', {class: 'side-by-side'}, cells)));
    }
    sections.push(h('section', {class: 'plot-group', 'aria-label': metric}, h('h2', {}, metric), rows));
  }
  return sections;
}

/** mountPlots(container, {ids, modelEvents, names}) -> cleanup. */
export function mountPlots(container, {ids, modelEvents = false, names = new Map()}) {
  const observer = lazyObserver();
  const body = h('div', {class: 'plots-panel'}, h('p', {class: 'muted'}, 'Loading plots…'));
  container.append(body);
  (async () => {
    try {
      const config = await appConfig();
      const sections = ids.length > 1 ? await manyTasks(ids, modelEvents, config, observer, names)
        : await singleTask(ids[0], modelEvents, config, observer);
      replace(body, sections.length ? sections : h('p', {class: 'muted'}, 'No plots reported'));
    } catch (error) {
      replace(body, errorBox(error));
    }
  })();
  return () => {
    observer.disconnect();
    if (window.Plotly) for (const plot of container.querySelectorAll('.plot-figure')) window.Plotly.purge(plot);
  };
}
