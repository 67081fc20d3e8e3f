// The tasks table (/projects/<id|*>/tasks): the reference app's columns plus metric (last/min/max) and
// hyper-parameter columns, per-column filters, multi-column sort, free-text search, 30-row pages through
// tasks.get_all_ex's scroll_id, column choice kept in the URL and the user's preferences, CSV export,
// bulk actions on the selection.
//
// Speed: only the visible columns' fields are requested (only_fields), 30 rows a page, search debounced; no
// request ever asks for every task.
import {api, ApiError, csrfToken} from '../api.js';
import {setQuery} from '../router.js';
import {downloadText, fmtDate, fmtDuration, fmtNumber, h, replace}
  from '../dom.js';
import {createDataTable, decodeSort, encodeSort, isFilterActive} from '../components/data_table.js';
import {TASK_ACTION_FIELDS, taskActionItems, taskActionsBar} from '../components/task_actions.js';
import {contextMenu, uiActionItems} from '../components/ui_actions.js';
import {escapeRegex, projectHeader, projectInfo} from '../components/project_header.js';
import {loadTablePrefs, saveTablePrefs} from '../components/table_prefs.js';
import {tableSearch} from '../components/table_search.js';

export const PAGE_SIZE = 30;
const SEARCH_FIELDS = ['id', 'name', 'comment', 'system_tags', 'models.output.model', 'models.input.model'];
// Status names as the reference app shows them.
export const STATUS_LABELS = {created: 'Draft', queued: 'Pending', in_progress: 'Running', stopped: 'Aborted',
  completed: 'Completed', failed: 'Failed', published: 'Published', publishing: 'Publishing', closed: 'Completed',
  unknown: 'Unknown'};
const STATUS_FILTER = ['created', 'queued', 'in_progress', 'stopped', 'completed', 'failed', 'published'];
export const statusLabel = (status) => STATUS_LABELS[status] || status || '';
const taskStatus = (status) => h('span', {class: `status status-${status || 'unknown'}`}, statusLabel(status));
const TYPES = ['training', 'testing', 'inference', 'data_processing', 'application', 'monitor', 'controller',
  'optimizer', 'service', 'qc', 'custom'];
// Always fetched: what the row link, the selection's actions and the status column need.
const BASE_FIELDS = [...new Set(['id', 'project.name', ...TASK_ACTION_FIELDS])];
const DEFAULT_VISIBLE = ['type', 'name', 'tags', 'status', 'project', 'user', 'started', 'last_update',
  'last_iteration'];
const DEFAULT_SORT = [{field: 'last_update', order: -1}];
const VALUE_TYPES = {value: 'Last', min_value: 'Min', max_value: 'Max'};

const shortId = (id) => (id ? id.slice(0, 8) : '');
const encodePart = (text) => encodeURIComponent(text).replaceAll('.', '%2E');
const decodePart = (text) => decodeURIComponent(text || '');
const tagList = (row) => h('span', {class: 'tags'}, (row.tags || []).map((t) => h('span', {class: 'tag'}, t)));

/** The built-in columns: id, label, what to request, how to sort, filter and draw. */
function builtinColumns(ctx) {
  return [
    {id: 'id', label: 'ID', fields: ['id'], text: (r) => r.id, render: (r) => h('code', {title: r.id}, shortId(r.id)),
      csv: 'id'},
    {id: 'type', label: 'Type', fields: ['type'], sortField: 'type', text: (r) => r.type || '',
      filter: {type: 'set', options: TYPES.map((t) => ({value: t, label: t.replace('_', ' ')}))}, csv: 'type'},
    {id: 'name', label: 'Name', fields: ['name'], sortField: 'name', removable: false, text: (r) => r.name || '',
      render: (r) => h('a', {href: taskHref(ctx, r), 'data-row-link': ''}, r.name || r.id), csv: 'name'},
    {id: 'tags', label: 'Tags', fields: ['tags', 'system_tags'], render: tagList,
      text: (r) => (r.tags || []).join(', '),
      filter: {type: 'tags', options: () => taskTags(ctx)}, csv: 'tags'},
    {id: 'status', label: 'Status', fields: ['status'], sortField: 'status', text: (r) => statusLabel(r.status),
      render: (r) => taskStatus(r.status), filter: {type: 'set', options: STATUS_FILTER.map((s) => ({value: s,
        label: statusLabel(s)}))}, csv: 'status',
      csvValues: Object.entries(STATUS_LABELS).map(([key, value]) => ({key, value}))},
    {id: 'project', label: 'Project', fields: ['project.name'], text: (r) => r.project?.name || '',
      render: (r) => (r.project?.id ? h('a', {href: `/projects/${r.project.id}/tasks`}, r.project.name || '') : ''),
      csv: 'project.name'},
    {id: 'user', label: 'User', fields: ['user.name'], text: (r) => r.user?.name || '',
      filter: {type: 'set', options: () => userOptions(ctx)}, csv: 'user.name'},
    {id: 'started', label: 'Started', fields: ['started'], sortField: 'started', text: (r) => fmtDate(r.started),
      filter: {type: 'date'}, csv: 'started'},
    {id: 'last_update', label: 'Updated', fields: ['last_update'], sortField: 'last_update',
      text: (r) => fmtDate(r.last_update), filter: {type: 'date'}, csv: 'last_update'},
    {id: 'last_iteration', label: 'Iteration', fields: ['last_iteration'], sortField: 'last_iteration',
      text: (r) => fmtNumber(r.last_iteration), filter: {type: 'number'}, csv: 'last_iteration'},
    {id: 'comment', label: 'Description', fields: ['comment'], sortField: 'comment', text: (r) => r.comment || '',
      csv: 'comment'},
    {id: 'active_duration', label: 'Run time', fields: ['active_duration'], sortField: 'active_duration',
      text: (r) => fmtDuration(r.active_duration), filter: {type: 'number', unit: 's'}, csv: 'active_duration'},
    {id: 'parent', label: 'Parent', fields: ['parent.name'], text: (r) => r.parent?.name || '',
      render: (r) => (r.parent?.id ? h('a', {href: `/projects/*/tasks/${r.parent.id}/execution`},
        r.parent.name || shortId(r.parent.id)) : ''), csv: 'parent.name'},
  ];
}

/** A metric column from its key "m.<metric hash>.<variant hash>.<value|min_value|max_value>.<metric>.<variant>". */
export function metricColumn(key) {
  const [, metricHash, variantHash, valueType, metric, variant] = key.split('.');
  const field = `last_metrics.${metricHash}.${variantHash}.${valueType}`;
  const value = (r) => r.last_metrics?.[metricHash]?.[variantHash]?.[valueType];
  return {id: key, label: `${decodePart(metric)} › ${decodePart(variant)} (${VALUE_TYPES[valueType] || valueType})`,
    fields: [field], sortField: field, filterField: field, text: (r) => fmtNumber(value(r)),
    filter: {type: 'number'}, csv: field, custom: true};
}

export function metricKey({metric, variant, metric_hash, variant_hash}, valueType = 'value') {
  return `m.${metric_hash}.${variant_hash}.${valueType}.${encodePart(metric)}.${encodePart(variant)}`;
}

/** A hyper-parameter column from its key "h.<section>.<name>". */
function paramColumn(key, ctx) {
  const [, sectionPart, namePart] = key.split('.');
  const section = decodePart(sectionPart);
  const name = decodePart(namePart);
  const field = `hyperparams.${section}.${name}`;
  const value = (r) => r.hyperparams?.[section]?.[name]?.value;
  return {id: key, label: `${section}/${name}`, fields: [field], sortField: `${field}.value`,
    filterField: `${field}.value`, text: (r) => value(r) ?? '', custom: true, csv: `${field}.value`,
    filter: {type: 'set', options: async () => {
      const data = await api('projects.get_hyperparam_values', {section, name, page_size: 200,
        ...(ctx.projectId !== '*' && {projects: [ctx.projectId]})});
      return (data.values || []).map(String);
    }}};
}

export function paramKey(section, name) {
  return `h.${encodePart(section)}.${encodePart(name)}`;
}

function taskHref(ctx, row) {
  const project = ctx.projectId !== '*' ? ctx.projectId : (row.project?.id || '*');
  return `/projects/${project}/tasks/${row.id}/execution`;
}

async function taskTags(ctx) {
  const body = ctx.projectId !== '*' ? {projects: [ctx.projectId]} : {};
  const data = await api('projects.get_task_tags', body);
  return data.tags || [];
}

async function userOptions(ctx) {
  const data = await api('projects.get_user_names', ctx.projectId !== '*' ? {projects: [ctx.projectId]} : {});
  return (data.users || []).map((u) => ({value: u.id, label: u.name || u.id}));
}

/** The tasks.get_all_ex body for the table's state (without paging). */
export function taskQuery(ctx, {sort, filters, visible}, columnsById) {
  const body = {
    only_fields: [...new Set([...BASE_FIELDS, ...visible.flatMap((id) => columnsById(id)?.fields || [])])],
    order_by: encodeSort(sort.length ? sort : DEFAULT_SORT),
    system_tags: [ctx.archived ? '__$and' : '__$not', 'archived', '__$not', 'pipeline', '__$not', 'dataset',
      '__$not', 'reports'],
    type: ['__$not', 'annotation_manual', '__$not', 'annotation', '__$not', 'dataset_import'],
  };
  if (ctx.projectId !== '*') body.project = [ctx.projectId];
  if (ctx.search) body._any_ = {pattern: escapeRegex(ctx.search), fields: SEARCH_FIELDS};
  for (const [colId, value] of Object.entries(filters)) {
    if (!isFilterActive(value)) continue;
    const column = columnsById(colId);
    if (colId === 'status') body.status = value.includes('completed') ? [...value, 'closed'] : value;
    else if (colId === 'type') body.type = value;
    else if (colId === 'user') body.user = value;
    else if (colId === 'tags') {
      const include = value.include || [];
      const exclude = value.exclude || [];
      body.filters = {tags: {[value.mode === 'all' ? 'all' : 'any']: {include, exclude}}};
    } else if (['started', 'last_update', 'last_iteration', 'active_duration'].includes(colId)) {
      body[colId] = value;
    } else if (column?.filterField) {
      body[column.filterField] = value;
    }
  }
  return body;
}

// ---- the view -----------------------------------------------------------------------------------------
export async function render({root, params, query}) {
  const projectId = params.projectId || '*';
  const ctx = {projectId, search: query.get('q') || '', archived: query.get('archive') === 'true'};
  // Both before the first page (the saved columns decide its only_fields), asked at the same time.
  const [project, prefs] = await Promise.all([projectInfo(projectId),
    query.get('columns') ? null : loadTablePrefs('tasks', projectId)]);

  const builtins = builtinColumns(ctx);
  let visible = (query.get('columns')?.split(',') || prefs?.columns || DEFAULT_VISIBLE).filter(Boolean);
  const sort = query.get('order') ? decodeSort(query.get('order')) : (prefs?.sort || DEFAULT_SORT);
  let filters = {};
  try {
    filters = query.get('filter') ? JSON.parse(query.get('filter')) : {};
  } catch {
    filters = {};
  }

  const customColumn = (key) => {
    const column = key.startsWith('m.') ? metricColumn(key) : key.startsWith('h.') ? paramColumn(key, ctx) : null;
    if (column) column.onRemove = () => removeColumn(key);
    return column;
  };
  let columns = [...builtins, ...visible.filter((id) => !builtins.some((c) => c.id === id)).map(customColumn)
    .filter(Boolean)];
  const columnsById = (id) => columns.find((c) => c.id === id);
  visible = visible.filter((id) => columnsById(id));
  if (!visible.includes('name')) visible.unshift('name');

  const persist = ({visible: cols, sort: order, filters: f}) => {
    setQuery({columns: cols.join(','), order: encodeSort(order).join(','),
      filter: Object.keys(f).length ? JSON.stringify(f) : null});
    saveTablePrefs('tasks', projectId, {columns: cols, sort: order});
  };

  function addColumn(column) {
    if (columnsById(column.id)) {
      if (!table.state.visible.includes(column.id)) table.setVisible([...table.state.visible, column.id]);
      return;
    }
    column.onRemove = () => removeColumn(column.id);
    columns = [...columns, column];
    table.setColumns(columns);
    table.setVisible([...table.state.visible, column.id]);
  }
  function removeColumn(id) {
    columns = columns.filter((c) => c.id !== id);
    table.setColumns(columns, table.state.visible.filter((c) => c !== id));
    table.setVisible(table.state.visible.filter((c) => c !== id));
  }

  const table = createDataTable({
    label: 'Tasks',
    columns,
    visible,
    sort,
    filters,
    pageSize: PAGE_SIZE,
    emptyText: ctx.search || Object.keys(filters).length ? 'No tasks match' : 'No tasks yet',
    rowHref: (row) => taskHref(ctx, row),
    load: async ({scrollId, size, ...state}) => {
      const data = await api('tasks.get_all_ex', {...taskQuery(ctx, state, columnsById), scroll_id: scrollId,
        size, refresh_scroll: false});
      return {rows: data.tasks || [], scrollId: data.scroll_id};
    },
    bulkBar: (rows) => taskActionsBar(rows, {projectId, onDone: () => table.reload()}),
    // Right-click: the selection's actions when the row is selected, else the row's, then the custom ones.
    onRowContextMenu: (row, event, tableApi) => {
      const chosen = tableApi.selectedRows();
      const rows = chosen.some((r) => r.id === row.id) ? chosen : [row];
      contextMenu(event, uiActionItems('task', rows.map((r) => r.id)).then((custom) => [
        ...taskActionItems(rows, {projectId, onDone: () => table.reload()}), {separator: true}, ...custom]));
    },
    chooserExtras: (tableApi, redraw) => customColumnPicker(ctx, (column) => { addColumn(column); redraw(); }),
    onStateChange: persist,
  });

  const exportButton = h('button', {type: 'button', onclick: () => exportCsv(ctx, table, columnsById, exportButton)},
    'Export CSV');
  replace(root,
    projectHeader(projectId, 'tasks', project),
    h('div', {class: 'toolbar'},
      tableSearch(ctx, table, {id: 'task', label: 'Search tasks'}),
      h('span', {class: 'spacer'}),
      h('button', {type: 'button', onclick: () => table.reload()}, 'Refresh'),
      h('button', {type: 'button', onclick: () => table.openChooser()}, 'Columns'),
      exportButton),
    table.element);
  await table.reload();
  return () => table.destroy();
}

/** The column chooser's extra part: add a metric (last/min/max) or a hyper-parameter column. */
function customColumnPicker(ctx, add) {
  const metricSelect = h('select', {id: 'add-metric', disabled: true}, h('option', {value: ''}, 'Loading…'));
  const valueSelect = h('select', {id: 'add-metric-value'},
    Object.entries(VALUE_TYPES).map(([value, label]) => h('option', {value}, label)));
  const paramSelect = h('select', {id: 'add-param', disabled: true}, h('option', {value: ''}, 'Loading…'));
  let metrics = [];
  let parameters = [];
  const project = ctx.projectId !== '*' ? ctx.projectId : undefined;
  api('projects.get_unique_metric_variants', project ? {project} : {}).then((data) => {
    metrics = (data.metrics || []).filter((m) => m.metric_hash && m.variant_hash);
    metricSelect.replaceChildren(...(metrics.length ? metrics.map((m, i) => h('option', {value: i},
      `${m.metric} › ${m.variant}`)) : [h('option', {value: ''}, 'No metrics reported')]));
    metricSelect.disabled = !metrics.length;
  }).catch((err) => metricSelect.replaceChildren(h('option', {value: ''}, err.message)));
  api('projects.get_hyper_parameters', {project: project || '', page_size: 500}).then((data) => {
    parameters = data.parameters || [];
    paramSelect.replaceChildren(...(parameters.length ? parameters.map((p, i) => h('option', {value: i},
      `${p.section}/${p.name}`)) : [h('option', {value: ''}, 'No hyperparameters')]));
    paramSelect.disabled = !parameters.length;
  }).catch((err) => paramSelect.replaceChildren(h('option', {value: ''}, err.message)));
  return h('div', {class: 'custom-columns'},
    h('h3', {}, 'Metric columns'),
    h('div', {class: 'field-row'},
      h('div', {class: 'field'}, h('label', {for: 'add-metric'}, 'Metric'), metricSelect),
      h('div', {class: 'field'}, h('label', {for: 'add-metric-value'}, 'Value'), valueSelect),
      h('button', {type: 'button', onclick: () => {
        const metric = metrics[Number(metricSelect.value)];
        if (metric && metricSelect.value !== '') add(metricColumn(metricKey(metric, valueSelect.value)));
      }}, 'Add metric column')),
    h('h3', {}, 'Hyperparameter columns'),
    h('div', {class: 'field-row'},
      h('div', {class: 'field'}, h('label', {for: 'add-param'}, 'Hyperparameter'), paramSelect),
      h('button', {type: 'button', onclick: () => {
        const param = parameters[Number(paramSelect.value)];
        if (param && paramSelect.value !== '') add(paramColumn(paramKey(param.section, param.name), ctx));
      }}, 'Add hyperparameter column')));
}

/**
 * CSV of every task the table's query matches, written by the API (organization.prepare_download_for_get_all
 * then download_for_get_all), columns as shown. Where the server export is unavailable, the loaded rows.
 */
async function exportCsv(ctx, table, columnsById, button) {
  const state = table.state;
  const columns = state.visible.map(columnsById).filter((c) => c?.csv);
  button.disabled = true;
  try {
    const query = taskQuery(ctx, state, columnsById);
    const prepared = await api('organization.prepare_download_for_get_all', {
      ...query, entity_type: 'task', only_fields: columns.map((c) => c.csv),
      field_mappings: columns.map((c) => ({field: c.csv, name: c.label, ...(c.csvValues && {values: c.csvValues})})),
    });
    const response = await fetch('/api/organization.download_for_get_all', {
      method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken()},
      body: JSON.stringify({prepare_id: prepared.prepare_id}),
    });
    const type = response.headers.get('Content-Type') || '';
    if (!response.ok || type.includes('json')) throw new ApiError('organization.download_for_get_all', response.status);
    downloadText(`tasks-${ctx.projectId === '*' ? 'all' : ctx.projectId}.csv`, await response.text(), 'text/csv');
  } catch (err) {
    console.warn('server CSV export failed, exporting the loaded rows', err);
    downloadText(`tasks-${ctx.projectId === '*' ? 'all' : ctx.projectId}.csv`, csvOf(columns, table.loadedRows()),
      'text/csv');
  } finally {
    button.disabled = false;
  }
}

export function csvOf(columns, rows) {
  const cell = (value) => {
    const text = value === null || value === undefined ? '' : String(value);
    return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const lines = [columns.map((c) => cell(c.label)).join(',')];
  for (const row of rows) lines.push(columns.map((c) => cell(c.text ? c.text(row) : row[c.id])).join(','));
  return lines.join('\r\n') + '\r\n';
}

