// Compare up to 100 tasks at the reference's paths: /projects/<p>/compare-tasks;ids=a,b/<tab> (or ?ids=a,b),
// tabs details, hyper-params/values, hyper-params/graph, scalars/values, scalars/graph, metrics-plots,
// debug-images. The tasks are read once (one tasks.get_all_ex); each tab is a module under views/compare/.
import {api} from '../api.js';
import {errorBox, h, replace} from '../dom.js';

export const MAX_TASKS = 100;
const COMPARE_FIELDS = ['id', 'name', 'status', 'type', 'project', 'user.name', 'created', 'started', 'completed',
  'last_update', 'last_iteration', 'tags', 'comment', 'hyperparams', 'configuration', 'script.repository',
  'script.branch', 'script.version_num', 'script.entry_point', 'script.working_dir', 'execution.queue',
  'container', 'models', 'last_metrics', 'output.destination', 'parent', 'active_duration'];

const TABS = [
  {path: 'details', label: 'Details', load: () => import('./compare/details.js')},
  {path: 'hyper-params/values', label: 'Hyperparameters', load: () => import('./compare/params.js')},
  {path: 'hyper-params/graph', label: 'Parallel coordinates', load: () => import('./compare/parallel.js')},
  {path: 'scalars/values', label: 'Scalar values', load: () => import('./compare/scalar_values.js')},
  {path: 'scalars/graph', label: 'Scalars', load: () => import('./compare/scalars.js')},
  {path: 'metrics-plots', label: 'Plots', load: () => import('./compare/plots.js')},
  {path: 'debug-images', label: 'Debug samples', load: () => import('./compare/debug_images.js')},
];

function selectedTab(tabPath) {
  const path = (tabPath || '').replace(/^\/+|\/+$/g, '');
  return TABS.find((t) => t.path === path)
    || TABS.find((t) => path && t.path.startsWith(path.split('/')[0]))
    || TABS[0];
}

function idsFrom(ctx) {
  const raw = ctx.matrix?.ids || ctx.query.get('ids') || '';
  return [...new Set(raw.split(',').map((s) => s.trim()).filter(Boolean))];
}

export async function render(ctx) {
  const {root, params} = ctx;
  const projectId = params.projectId;
  const ids = idsFrom(ctx);
  const tab = selectedTab(params.tab);
  const base = `/projects/${encodeURIComponent(projectId)}/compare-tasks;ids=${ids.join(',')}`;
  if (!ids.length) {
    replace(root, h('h1', {}, 'Compare tasks'),
      h('p', {class: 'muted'}, 'Select tasks in a tasks table and choose Compare, or add ids=a,b to the address.'));
    return undefined;
  }
  if (ids.length > MAX_TASKS) {
    replace(root, errorBox(new Error(`At most ${MAX_TASKS} tasks can be compared (${ids.length} given)`)));
    return undefined;
  }
  replace(root, h('p', {class: 'muted'}, 'Loading tasks…'));
  let tasks;
  try {
    const answer = await api('tasks.get_all_ex', {id: ids, only_fields: COMPARE_FIELDS, size: MAX_TASKS});
    const byId = new Map((answer.tasks || []).map((t) => [t.id, t]));
    tasks = ids.map((id) => byId.get(id)).filter(Boolean);
  } catch (error) {
    replace(root, errorBox(error));
    return undefined;
  }
  const missing = ids.filter((id) => !tasks.some((t) => t.id === id));
  const names = new Map(tasks.map((t) => [t.id, t.name || t.id]));
  const body = h('section', {id: 'compare-panel', role: 'tabpanel', class: 'compare-panel',
    'aria-labelledby': `compare-tab-${TABS.indexOf(tab)}`});
  replace(root,
    h('div', {class: 'breadcrumbs'}, h('a', {href: `/projects/${projectId}/tasks`}, 'Tasks'), ' / compare'),
    h('h1', {}, `Compare ${tasks.length} tasks`),
    missing.length ? errorBox(new Error(`Not found: ${missing.join(', ')}`)) : null,
    h('div', {class: 'compare-chips', 'aria-label': 'Compared tasks'}, tasks.map((t) => h('a', {class: 'compare-chip',
      href: `/projects/${t.project?.id || t.project || projectId}/tasks/${t.id}/execution`}, t.name || t.id))),
    h('div', {class: 'tabs', role: 'tablist', 'aria-label': 'Compare sections'}, TABS.map((t, i) => h('a', {
      role: 'tab', id: `compare-tab-${i}`, href: `${base}/${t.path}`, 'aria-selected': String(t === tab),
      'aria-controls': 'compare-panel', tabindex: t === tab ? '0' : '-1'}, t.label))),
    body);
  document.title = `Compare ${tasks.length} tasks · ${tab.label} · Trackside`;
  try {
    const module = await tab.load();
    return await module.render(body, {tasks, ids: tasks.map((t) => t.id), names, projectId, query: ctx.query});
  } catch (error) {
    replace(body, errorBox(error));
    return undefined;
  }
}
