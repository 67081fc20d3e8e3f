// Compare: the tasks' general fields, source and container, differences highlighted.
import {fmtDate, h, replace} from '../../dom.js';
import {compareTable, onlyDiffsToggle} from './table.js';

const modelNames = (v) => (v || []).map((m) => m.name || m.model).join(', ');
const pick = (task, path) => path.split('.').reduce((v, k) => (v == null ? v : v[k]), task);

export async function render(container, {tasks}) {
  const row = (name, path, format = (v) => v) => ({name, values: tasks.map((t) => format(pick(t, path)))});
  const sections = [
    {title: 'General', rows: [row('Type', 'type'), row('Status', 'status'),
      row('User', 'user', (v) => (v && typeof v === 'object' ? v.name || v.id : v)),
      row('Created', 'created', fmtDate), row('Started', 'started', fmtDate), row('Completed', 'completed', fmtDate),
      row('Last iteration', 'last_iteration'), row('Parent', 'parent'),
      row('Tags', 'tags', (v) => (v || []).join(', ')),
      row('Description', 'comment')]},
    {title: 'Source', rows: [row('Repository', 'script.repository'), row('Branch', 'script.branch'),
      row('Commit', 'script.version_num'), row('Script path', 'script.entry_point'),
      row('Working directory', 'script.working_dir')]},
    {title: 'Container', rows: [row('Image', 'container.image'), row('Arguments', 'container.arguments')]},
    {title: 'Models', rows: [row('Input models', 'models.input', modelNames),
      row('Output models', 'models.output', modelNames)]},
    {title: 'Output', rows: [row('Destination', 'output.destination'), row('Queue', 'execution.queue')]},
  ];
  const slot = h('div');
  const draw = (only) => replace(slot, compareTable({label: 'Task details', tasks, sections, onlyDiffs: only}));
  container.append(h('div', {class: 'toolbar'}, onlyDiffsToggle('details-only-diffs', draw)), slot);
  draw(false);
  return undefined;
}
