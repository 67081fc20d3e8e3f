// Compare: parallel coordinates of hyperparameters against a chosen metric (plotly parcoords). Numeric
// parameters are numeric axes; others are categorical axes (one tick per value).
import {h, replace} from '../../dom.js';
import {loadPlotly} from '../../components/plotly.js';
import {paramKeys, paramValue} from './params.js';
import {VALUE_KINDS, lastMetrics} from './metrics.js';
import {same} from './table.js';

const MAX_DEFAULT_PARAMS = 8;

function dimension(label, values) {
  const numbers = values.map((v) => (v === null || v === '' ? NaN : Number(v)));
  if (numbers.every((n) => Number.isFinite(n))) return {label, values: numbers};
  const categories = [...new Set(values.map((v) => String(v ?? '')))].sort();
  return {label, values: values.map((v) => categories.indexOf(String(v ?? ''))),
    tickvals: categories.map((_, i) => i),
    ticktext: categories.map((c) => (c.length > 18 ? `${c.slice(0, 18)}…` : c || '—'))};
}

export async function render(container, {tasks}) {
  const params = paramKeys(tasks);
  const series = lastMetrics(tasks);
  const differing = params.filter(([, p]) => !same(tasks.map((t) => paramValue(t, p.section, p.name))));
  const chosen = new Set((differing.length ? differing : params).slice(0, MAX_DEFAULT_PARAMS).map(([key]) => key));

  const metricSelect = h('select', {id: 'parallel-metric'},
    h('option', {value: ''}, '(no metric)'),
    series.map((s, i) => h('option', {value: s.key, selected: i === 0}, s.key)));
  const kindSelect = h('select', {id: 'parallel-kind'},
    VALUE_KINDS.map(([v, label]) => h('option', {value: v}, label)));
  const plot = h('div', {class: 'chart-plot parallel-plot'});
  const paramBoxes = h('fieldset', {class: 'param-picker'}, h('legend', {}, 'Hyperparameters'),
    params.map(([key], i) => {
      const box = h('input', {type: 'checkbox', id: `parallel-param-${i}`, value: key, checked: chosen.has(key),
        onchange: () => { if (box.checked) chosen.add(key); else chosen.delete(key); draw(); }});
      return h('span', {class: 'control check'}, box, h('label', {for: box.id}, key));
    }));
  container.append(h('div', {class: 'toolbar'}, h('label', {for: metricSelect.id}, 'Metric'), metricSelect,
    h('label', {for: kindSelect.id}, 'Value'), kindSelect), paramBoxes,
  h('figure', {class: 'chart-card', 'aria-label': 'Parallel coordinates'}, plot));
  metricSelect.addEventListener('change', () => draw());
  kindSelect.addEventListener('change', () => draw());

  async function draw() {
    const Plotly = await loadPlotly();
    const dims = params.filter(([key]) => chosen.has(key)).map(([key, p]) =>
      dimension(key, tasks.map((t) => paramValue(t, p.section, p.name))));
    const metric = series.find((s) => s.key === metricSelect.value);
    let color;
    if (metric) {
      const values = tasks.map((t) => metric.values.get(t.id)?.[kindSelect.value] ?? NaN);
      dims.push({label: `${metric.key} (${kindSelect.selectedOptions[0].textContent.toLowerCase()})`, values});
      color = values;
    }
    if (!dims.length) { replace(plot, h('p', {class: 'muted'}, 'Choose hyperparameters to draw')); return; }
    if (!plot.dataset.drawn) plot.replaceChildren();
    await Plotly.react(plot, [{type: 'parcoords', dimensions: dims,
      line: color ? {color, colorscale: 'Viridis', showscale: true, colorbar: {title: {text: metric.key}}}
        : {color: '#2f6fed'}}],
    {height: 440, margin: {l: 70, r: 70, t: 60, b: 30}}, {displaylogo: false, responsive: true});
    plot.dataset.drawn = 'true';
  }
  await draw();
  return () => { if (window.Plotly) window.Plotly.purge(plot); };
}
