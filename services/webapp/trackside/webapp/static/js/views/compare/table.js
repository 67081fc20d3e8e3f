// The compare tables: a row per field, a column per task, rows whose values differ highlighted.
import {h} from '../../dom.js';

export function same(values) {
  const first = JSON.stringify(values[0] ?? null);
  return values.every((v) => JSON.stringify(v ?? null) === first);
}

function cellText(value) {
  if (value === null || value === undefined || value === '') return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * compareTable({label, tasks, sections: [{title, rows: [{name, values: [..per task]}]}], onlyDiffs})
 * -> <table>; a row differs when its values are not all the same (class "differs", and a visually hidden
 * "differs" note so assistive technology hears it too).
 */
export function compareTable({label, tasks, sections, onlyDiffs = false}) {
  const body = [];
  for (const section of sections) {
    const rows = section.rows.filter((row) => !onlyDiffs || !same(row.values));
    if (!rows.length) continue;
    if (section.title) {
      body.push(h('tr', {class: 'section-row'},
        h('th', {scope: 'colgroup', colspan: tasks.length + 1}, section.title)));
    }
    for (const row of rows) {
      const differs = !same(row.values);
      body.push(h('tr', {class: differs ? 'differs' : null, dataset: {name: row.name}},
        h('th', {scope: 'row', class: differs ? 'differs' : null}, row.name,
          differs ? h('span', {class: 'sr-only'}, ' (differs)') : null),
        row.values.map((value) => h('td', {class: differs ? 'differs' : null, title: cellText(value)},
          row.render ? row.render(value) : cellText(value)))));
    }
  }
  return h('div', {class: 'table-wrap'}, h('table', {class: 'data-table compare-table', 'aria-label': label},
    h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Field'),
      tasks.map((t) => h('th', {scope: 'col'}, t.name || t.id)))),
    h('tbody', {}, body.length ? body
      : h('tr', {}, h('td', {colspan: tasks.length + 1, class: 'muted'}, 'Nothing to show')))));
}

/** A labelled "only differences" checkbox that calls onChange(checked). */
export function onlyDiffsToggle(id, onChange, checked = false) {
  const box = h('input', {type: 'checkbox', id, checked, onchange: () => onChange(box.checked)});
  return h('span', {class: 'control check'}, box, h('label', {for: id}, 'Only differences'));
}
