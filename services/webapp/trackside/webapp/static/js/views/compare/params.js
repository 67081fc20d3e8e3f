// Compare: hyperparameters (by section) and configuration objects, differences highlighted.
import {h, replace} from '../../dom.js';
import {compareTable, onlyDiffsToggle} from './table.js';

export function paramKeys(tasks) {
  const keys = new Map(); // "section/name" -> {section, name}
  for (const t of tasks) {
    for (const [section, params] of Object.entries(t.hyperparams || {})) {
      for (const name of Object.keys(params || {})) keys.set(`${section}/${name}`, {section, name});
    }
  }
  return [...keys.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

export function paramValue(task, section, name) {
  const value = task.hyperparams?.[section]?.[name]?.value;
  return value === undefined ? null : value;
}

export async function render(container, {tasks}) {
  const bySection = new Map();
  for (const [key, {section, name}] of paramKeys(tasks)) {
    if (!bySection.has(section)) bySection.set(section, []);
    bySection.get(section).push({name: key.slice(section.length + 1),
      values: tasks.map((t) => paramValue(t, section, name))});
  }
  const configNames = [...new Set(tasks.flatMap((t) => Object.keys(t.configuration || {})))].sort();
  const sections = [...bySection.entries()].map(([title, rows]) =>
    ({title: title === 'properties' ? 'User properties' : title, rows}));
  const configSection = {title: 'Configuration objects', rows: configNames.map((name) => ({name,
    values: tasks.map((t) => t.configuration?.[name]?.value ?? null),
    render: (v) => (v && v.length > 120 ? `${v.slice(0, 120)}…` : v ?? '')}))};
  const slot = h('div');
  const draw = (only) => replace(slot,
    h('h2', {}, 'Hyperparameters'),
    compareTable({label: 'Hyperparameters', tasks, sections, onlyDiffs: only}),
    h('h2', {}, 'Configuration objects'),
    compareTable({label: 'Configuration objects', tasks, sections: [{...configSection, title: null}],
      onlyDiffs: only}));
  container.append(h('div', {class: 'toolbar'}, onlyDiffsToggle('params-only-diffs', draw)), slot);
  draw(false);
  return undefined;
}
