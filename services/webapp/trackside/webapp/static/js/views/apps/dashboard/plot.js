// The `plot` element: the task's latest reported plots of the metric (only the listed variants), the variants'
// traces merged into one figure (a fit's "data" and "model" scatters on the same axes). Figures are read and
// drawn as the task page's Plots tab does (components/plots_panel.js); a live refresh redraws in place
// (Plotly.react) only when a newer plot came in.
import {api, appConfig} from '../../../api.js';
import {h, replace} from '../../../dom.js';
import {loadPlotly} from '../../../components/plotly.js';
import {parseFigure, rewriteSources} from '../../../components/plots_panel.js';
import {variantsOf} from './series.js';

function merged(events, config) {
  const figures = events.map((event) => rewriteSources(parseFigure(event), config));
  const layout = {...(figures[0]?.layout || {})};
  delete layout.width;
  delete layout.title; // the card's title names it
  return {
    data: figures.flatMap((figure, i) => (figure.data || []).map((trace) => ({name: events[i].variant, ...trace}))),
    layout: {...layout, autosize: true, height: 320, margin: {l: 50, r: 20, t: 16, b: 40},
      showlegend: figures.reduce((n, f) => n + (f.data || []).length, 0) > 1,
      legend: {orientation: 'h', y: -0.2}},
  };
}

export function mount(body, element, ctx) {
  const plot = h('div', {class: 'chart-plot app-plot'});
  const note = h('p', {class: 'muted'}, 'Loading plot…');
  body.append(note, plot);
  const wanted = variantsOf(element);
  let signature = null;
  let busy = false;

  async function draw() {
    if (busy) return;
    busy = true;
    try {
      const metrics = [{metric: String(element.metric ?? ''), variants: wanted}];
      const [{plots = []}, config] = await Promise.all([
        api('events.get_task_plots', {task: ctx.taskId, iters: 1, metrics}), appConfig()]);
      // Latest per variant, in the order the element lists them.
      const latest = new Map();
      for (const event of plots) {
        if (event.metric !== element.metric || (wanted.length && !wanted.includes(event.variant))) continue;
        const seen = latest.get(event.variant);
        if (!seen || (event.iter ?? 0) > (seen.iter ?? 0)) latest.set(event.variant, event);
      }
      const order = wanted.length ? wanted : [...latest.keys()].sort();
      const events = order.map((variant) => latest.get(variant)).filter(Boolean);
      const next = JSON.stringify(events.map((e) => [e.variant, e.iter, e.timestamp]));
      if (next === signature) return;
      signature = next;
      if (!events.length) { note.textContent = 'No plot reported yet'; note.hidden = false; return; }
      note.hidden = true;
      note.textContent = `Iteration ${Math.max(...events.map((e) => e.iter ?? 0))}`;
      const Plotly = await loadPlotly();
      const figure = merged(events, config);
      await Plotly.react(plot, figure.data, figure.layout, {displaylogo: false, responsive: true});
      plot.dataset.drawn = 'true';
      plot.dataset.draws = String(Number(plot.dataset.draws || 0) + 1);
    } catch (error) {
      ctx.fail(note, error);
      note.hidden = false;
    } finally {
      busy = false;
    }
  }

  draw();
  return {
    refresh: draw,
    destroy: () => { if (window.Plotly && plot.dataset.drawn) window.Plotly.purge(plot); },
  };
}
