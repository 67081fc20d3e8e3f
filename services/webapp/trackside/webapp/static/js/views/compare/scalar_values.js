// Compare: each scalar series' last (min, max) value per task.
import {fmtNumber, h, replace} from '../../dom.js';
import {compareTable, onlyDiffsToggle} from './table.js';
import {VALUE_KINDS, lastMetrics} from './metrics.js';

export async function render(container, {tasks}) {
  const series = lastMetrics(tasks);
  let kind = 'value';
  let only = false;
  const slot = h('div');
  const rows = () => series.map((s) => ({name: s.key, values: tasks.map((t) => s.values.get(t.id)?.[kind] ?? null),
    render: (v) => fmtNumber(v)}));
  const draw = () => replace(slot, compareTable({label: 'Scalar values', tasks, onlyDiffs: only,
    sections: [{title: null, rows: rows()}]}));
  const select = h('select', {id: 'scalar-value-kind', onchange: () => { kind = select.value; draw(); }},
    VALUE_KINDS.map(([v, label]) => h('option', {value: v}, label)));
  container.append(h('div', {class: 'toolbar'}, h('label', {for: select.id}, 'Value'), select,
    onlyDiffsToggle('values-only-diffs', (checked) => { only = checked; draw(); })), slot);
  draw();
  return undefined;
}
