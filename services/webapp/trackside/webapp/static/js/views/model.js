// The model page (/projects/<p>/models/<m>/<tab>, also /<m>/output/<tab>): general, network (design),
// labels, metadata, the tasks using it (tasks.get_all_ex on models.input.model), scalars and plots (the
// task page's panels, fed with the model's own events).
import {api, appConfig, fileUrl} from '../api.js';
import {errorBox, fmtDate, fmtNumber, h, replace} from '../dom.js';
import {createDataTable, encodeSort} from '../components/data_table.js';
import {modelActionsMenu} from '../components/model_actions.js';
import {uiActionItems} from '../components/ui_actions.js';
import {modelStatus} from './models.js';
import {statusLabel} from './tasks.js';
import {taskActionsBar} from '../components/task_actions.js';

const TABS = [
  ['general', 'General'], ['network', 'Network'], ['labels', 'Labels'], ['metadata', 'Metadata'],
  ['tasks', 'Tasks'], ['scalars', 'Scalars'], ['plots', 'Plots'],
];
const MODEL_FIELDS = ['id', 'name', 'comment', 'tags', 'system_tags', 'framework', 'uri', 'ready', 'created',
  'last_update', 'user.name', 'project.name', 'task.name', 'parent.name', 'design', 'labels', 'metadata', 'company',
  'last_iteration'];

async function loadModel(modelId) {
  const {models = []} = await api('models.get_all_ex', {id: [modelId], only_fields: MODEL_FIELDS});
  if (!models.length) throw new Error(`Model ${modelId} was not found`);
  return models[0];
}

const archived = (m) => (m.system_tags || []).includes('archived');

function kv(pairs) {
  return h('dl', {class: 'kv'}, pairs.filter(([, value]) => value !== null && value !== undefined && value !== '')
    .flatMap(([key, value]) => [h('dt', {}, key), h('dd', {}, value)]));
}

async function general(model, projectId) {
  const config = await appConfig().catch(() => null);
  const url = model.uri ? fileUrl(model.uri, config) : null;
  const downloadable = url && url.startsWith('/files/');
  return h('section', {class: 'panel'}, kv([
    ['ID', h('code', {}, model.id)],
    ['Status', modelStatus(model.ready)],
    ['Archived', archived(model) ? 'Yes' : null],
    ['Framework', model.framework || '—'],
    ['Created', fmtDate(model.created)],
    ['Updated', fmtDate(model.last_update)],
    ['User', model.user?.name || ''],
    ['Project', model.project?.id ? h('a', {href: `/projects/${model.project.id}/models`}, model.project.name || '')
      : ''],
    ['Creating task', model.task?.id ? h('a', {href: `/projects/${projectId}/tasks/${model.task.id}/execution`},
      model.task.name || model.task.id) : null],
    ['Parent model', model.parent?.id ? h('a', {href: `/projects/${projectId}/models/${model.parent.id}/general`},
      model.parent.name || model.parent.id) : null],
    ['Last iteration', model.last_iteration ? fmtNumber(model.last_iteration) : null],
    ['Model URL', model.uri ? h('span', {}, h('code', {}, model.uri), downloadable ? [' ',
      h('a', {href: url, download: '', 'data-external': ''}, 'Download')] : null) : null],
    ['Tags', (model.tags || []).length ? h('span', {class: 'tags'}, model.tags.map((t) => h('span', {class: 'tag'}, t)))
      : null],
    ['Description', model.comment || null],
  ]));
}

function network(model) {
  const design = model.design;
  let text = '';
  if (typeof design === 'string') text = design;
  else if (design && typeof design.design === 'string') text = design.design;
  else if (design && Object.keys(design).length) text = JSON.stringify(design, null, 2);
  return text ? h('section', {'aria-label': 'Network design'}, h('pre', {class: 'code'}, text))
    : h('p', {class: 'muted'}, 'No network design was stored with this model.');
}

function labels(model) {
  const entries = Object.entries(model.labels || {}).sort((a, b) => a[1] - b[1]);
  if (!entries.length) return h('p', {class: 'muted'}, 'No labels.');
  return h('table', {class: 'labels-table data-table', 'aria-label': 'Labels'},
    h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Label'), h('th', {scope: 'col'}, 'ID'))),
    h('tbody', {}, entries.map(([name, id]) => h('tr', {}, h('td', {}, name), h('td', {}, String(id))))));
}

function metadata(model) {
  const entries = Object.values(model.metadata || {});
  if (!entries.length) return h('p', {class: 'muted'}, 'No metadata.');
  return h('table', {class: 'labels-table data-table', 'aria-label': 'Metadata'},
    h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Key'), h('th', {scope: 'col'}, 'Type'),
      h('th', {scope: 'col'}, 'Value'))),
    h('tbody', {}, entries.map((m) => h('tr', {}, h('td', {}, m.key), h('td', {}, m.type || ''),
      h('td', {}, m.value ?? '')))));
}

function tasksUsing(model, projectId) {
  const columns = [
    {id: 'name', label: 'Name', fields: ['name'], sortField: 'name', removable: false, text: (r) => r.name,
      render: (r) => h('a', {href: `/projects/${r.project?.id || projectId}/tasks/${r.id}/execution`,
        'data-row-link': ''}, r.name || r.id)},
    {id: 'status', label: 'Status', fields: ['status'], sortField: 'status', text: (r) => r.status,
      render: (r) => h('span', {class: `status status-${r.status}`}, statusLabel(r.status))},
    {id: 'project', label: 'Project', fields: ['project.name'], text: (r) => r.project?.name || ''},
    {id: 'user', label: 'User', fields: ['user.name'], text: (r) => r.user?.name || ''},
    {id: 'last_update', label: 'Updated', fields: ['last_update'], sortField: 'last_update',
      text: (r) => fmtDate(r.last_update)},
  ];
  const table = createDataTable({
    label: 'Tasks using this model', columns, sort: [{field: 'last_update', order: -1}], pageSize: 30,
    emptyText: 'No task uses this model as an input.',
    bulkBar: (rows) => taskActionsBar(rows, {projectId, onDone: () => table.reload()}),
    rowHref: (r) => `/projects/${r.project?.id || projectId}/tasks/${r.id}/execution`,
    load: async ({scrollId, size, sort}) => {
      const data = await api('tasks.get_all_ex', {'models.input.model': [model.id], scroll_id: scrollId, size,
        order_by: encodeSort(sort), only_fields: ['id', 'name', 'status', 'type', 'system_tags', 'tags', 'company',
          'project.name', 'user.name', 'last_update']});
      return {rows: data.tasks || [], scrollId: data.scroll_id};
    },
  });
  table.reload();
  return {node: table.element, cleanup: () => table.destroy()};
}

/** The task page's panels (helper modules); a placeholder until they exist. */
async function panel(kind, model) {
  const box = h('div', {class: `model-${kind}`});
  try {
    if (kind === 'scalars') {
      const {mountScalars} = await import('../components/scalars_panel.js');
      return {node: box, mount: () => mountScalars(box, {ids: [model.id], modelEvents: true,
        names: new Map([[model.id, model.name]])})};
    }
    const {mountPlots} = await import('../components/plots_panel.js');
    return {node: box, mount: () => mountPlots(box, {ids: [model.id], modelEvents: true,
      names: new Map([[model.id, model.name]])})};
  } catch (err) {
    console.warn(`${kind} panel unavailable`, err);
    return {node: h('p', {class: 'muted'}, `The ${kind} view is not available yet.`)};
  }
}

export async function render({root, params}) {
  const {projectId, modelId} = params;
  const tab = (params.tab || 'general').replace(/^output\/?/, '') || 'general';
  const fullScreen = /^output(\/|$)/.test(params.tab || '');
  const current = TABS.some(([id]) => id === tab) ? tab : 'general';
  let model;
  try {
    model = await loadModel(modelId);
  } catch (err) {
    replace(root, h('h1', {}, 'Model'), errorBox(err));
    return undefined;
  }
  const base = `/projects/${projectId}/models/${modelId}${fullScreen ? '/output' : ''}`;
  const tabs = h('div', {class: 'tabs', role: 'tablist', 'aria-label': 'Model sections'},
    TABS.map(([id, label]) => h('a', {role: 'tab', id: `model-tab-${id}`, href: `${base}/${id}`,
      'aria-selected': id === current ? 'true' : 'false', 'aria-controls': 'model-panel',
      tabindex: id === current ? '0' : '-1'}, label)));
  tabs.addEventListener('keydown', (event) => {
    const links = [...tabs.querySelectorAll('[role=tab]')];
    const at = links.indexOf(document.activeElement);
    if (event.key === 'ArrowRight') { event.preventDefault(); links[(at + 1) % links.length].focus(); }
    if (event.key === 'ArrowLeft') { event.preventDefault(); links[(at - 1 + links.length) % links.length].focus(); }
  });
  const body = h('div', {role: 'tabpanel', id: 'model-panel', 'aria-labelledby': `model-tab-${current}`});
  const rerender = () => render({root, params});
  replace(root,
    h('nav', {class: 'breadcrumbs', 'aria-label': 'Breadcrumbs'}, h('a', {href: '/projects'}, 'Projects'), ' / ',
      h('a', {href: `/projects/${projectId}/models`},
        model.project?.name || (projectId === '*' ? 'All models' : 'Models'))),
    h('div', {class: 'model-summary'},
      h('h1', {}, model.name || model.id), modelStatus(model.ready),
      archived(model) ? h('span', {class: 'status'}, 'Archived') : null,
      h('span', {class: 'muted'}, model.framework || ''),
      h('span', {class: 'spacer', style: {flex: '1'}}),
      modelActionsMenu([model], {onDone: rerender, extraItems: () => uiActionItems('model', [model.id])})),
    tabs, body);

  let cleanup = null;
  if (current === 'general') body.append(await general(model, projectId));
  else if (current === 'network') body.append(network(model));
  else if (current === 'labels') body.append(labels(model));
  else if (current === 'metadata') body.append(metadata(model));
  else if (current === 'tasks') {
    const part = tasksUsing(model, projectId);
    body.append(part.node);
    cleanup = part.cleanup;
  } else {
    const part = await panel(current, model);
    body.append(part.node);
    if (part.mount) cleanup = part.mount();
  }
  return () => { if (typeof cleanup === 'function') cleanup(); };
}
