// The models table (/projects/<id|*>/models): name, framework, tags, ready/published status, task, project,
// user, updated; per-column filters, multi-column sort, search, 30-row pages through models.get_all_ex's
// scroll_id, column choice in the URL and the user's preferences, bulk publish/move/tags/archive/delete.
import {api} from '../api.js';
import {setQuery} from '../router.js';
import {fmtDate, h, replace} from '../dom.js';
import {createDataTable, decodeSort, encodeSort, isFilterActive} from '../components/data_table.js';
import {MODEL_ACTION_FIELDS, modelActionItems, modelActionsBar} from '../components/model_actions.js';
import {contextMenu, uiActionItems} from '../components/ui_actions.js';
import {escapeRegex, projectHeader, projectInfo} from '../components/project_header.js';
import {loadTablePrefs, saveTablePrefs} from '../components/table_prefs.js';
import {tableSearch} from '../components/table_search.js';

const PAGE_SIZE = 30;
const SEARCH_FIELDS = ['id', 'name', 'comment', 'system_tags'];
const BASE_FIELDS = [...new Set(['id', 'project.name', ...MODEL_ACTION_FIELDS])];
const DEFAULT_VISIBLE = ['framework', 'name', 'tags', 'ready', 'task', 'project', 'user', 'last_update'];
const DEFAULT_SORT = [{field: 'last_update', order: -1}];

export const modelStatus = (ready) => h('span', {class: `status status-${ready ? 'published' : 'created'}`},
  ready ? 'Published' : 'Draft');

function modelHref(ctx, row) {
  const project = ctx.projectId !== '*' ? ctx.projectId : (row.project?.id || '*');
  return `/projects/${project}/models/${row.id}/general`;
}

function columnsFor(ctx) {
  const projectBody = ctx.projectId !== '*' ? {projects: [ctx.projectId]} : {};
  return [
    {id: 'id', label: 'ID', fields: ['id'], text: (r) => r.id,
      render: (r) => h('code', {title: r.id}, r.id.slice(0, 8))},
    {id: 'framework', label: 'Framework', fields: ['framework'], sortField: 'framework', text: (r) => r.framework || '',
      filter: {type: 'set', options: async () => (await api('models.get_frameworks',
        ctx.projectId !== '*' ? {projects: [ctx.projectId]} : {})).frameworks || []}},
    {id: 'name', label: 'Name', fields: ['name'], sortField: 'name', removable: false, text: (r) => r.name || '',
      render: (r) => h('a', {href: modelHref(ctx, r), 'data-row-link': ''}, r.name || r.id)},
    {id: 'tags', label: 'Tags', fields: ['tags', 'system_tags'], text: (r) => (r.tags || []).join(', '),
      render: (r) => h('span', {class: 'tags'}, (r.tags || []).map((t) => h('span', {class: 'tag'}, t))),
      filter: {type: 'tags', options: async () => (await api('projects.get_model_tags', projectBody)).tags || []}},
    {id: 'ready', label: 'Status', fields: ['ready'], sortField: 'ready',
      text: (r) => (r.ready ? 'Published' : 'Draft'),
      render: (r) => modelStatus(r.ready),
      filter: {type: 'set', options: [{value: 'true', label: 'Published'}, {value: 'false', label: 'Draft'}]}},
    {id: 'task', label: 'Task', fields: ['task.name'], text: (r) => r.task?.name || '',
      render: (r) => (r.task?.id ? h('a', {href: `/projects/${r.project?.id || '*'}/tasks/${r.task.id}/execution`},
        r.task.name || r.task.id) : '')},
    {id: 'project', label: 'Project', fields: ['project.name'], text: (r) => r.project?.name || '',
      render: (r) => (r.project?.id ? h('a', {href: `/projects/${r.project.id}/models`}, r.project.name || '') : '')},
    {id: 'user', label: 'User', fields: ['user.name'], text: (r) => r.user?.name || '',
      filter: {type: 'set', options: async () => ((await api('projects.get_user_names', {...projectBody,
        entity: 'model'})).users || []).map((u) => ({value: u.id, label: u.name || u.id}))}},
    {id: 'created', label: 'Created', fields: ['created'], sortField: 'created', text: (r) => fmtDate(r.created),
      filter: {type: 'date'}},
    {id: 'last_update', label: 'Updated', fields: ['last_update'], sortField: 'last_update',
      text: (r) => fmtDate(r.last_update), filter: {type: 'date'}},
    {id: 'comment', label: 'Description', fields: ['comment'], sortField: 'comment', text: (r) => r.comment || ''},
  ];
}

export function modelQuery(ctx, {sort, filters, visible}, columnsById) {
  const body = {
    only_fields: [...new Set([...BASE_FIELDS, ...visible.flatMap((id) => columnsById(id)?.fields || [])])],
    order_by: encodeSort(sort.length ? sort : DEFAULT_SORT),
    system_tags: [ctx.archived ? '__$and' : '__$not', 'archived'],
    include_stats: false,
  };
  if (ctx.projectId !== '*') body.project = [ctx.projectId];
  if (ctx.search) body._any_ = {pattern: escapeRegex(ctx.search), fields: SEARCH_FIELDS};
  for (const [colId, value] of Object.entries(filters)) {
    if (!isFilterActive(value)) continue;
    if (colId === 'tags') {
      body.filters = {tags: {[value.mode === 'all' ? 'all' : 'any']: {include: value.include || [],
        exclude: value.exclude || []}}};
    } else if (colId === 'ready') {
      if (value.length === 1) body.ready = value[0] === 'true';
    } else if (['framework', 'user'].includes(colId)) {
      body[colId] = value;
    } else if (['created', 'last_update'].includes(colId)) {
      body[colId] = value;
    }
  }
  return body;
}

export async function render({root, params, query}) {
  const projectId = params.projectId || '*';
  const ctx = {projectId, search: query.get('q') || '', archived: query.get('archive') === 'true'};
  const [project, prefs] = await Promise.all([projectInfo(projectId),
    query.get('columns') ? null : loadTablePrefs('models', projectId)]);
  const columns = columnsFor(ctx);
  const columnsById = (id) => columns.find((c) => c.id === id);
  let visible = (query.get('columns')?.split(',') || prefs?.columns || DEFAULT_VISIBLE).filter(columnsById);
  if (!visible.includes('name')) visible = ['name', ...visible];
  let filters = {};
  try {
    filters = query.get('filter') ? JSON.parse(query.get('filter')) : {};
  } catch {
    filters = {};
  }

  const table = createDataTable({
    label: 'Models',
    columns,
    visible,
    sort: query.get('order') ? decodeSort(query.get('order')) : (prefs?.sort || DEFAULT_SORT),
    filters,
    pageSize: PAGE_SIZE,
    emptyText: 'No models',
    rowHref: (row) => modelHref(ctx, row),
    load: async ({scrollId, size, ...state}) => {
      const data = await api('models.get_all_ex', {...modelQuery(ctx, state, columnsById), scroll_id: scrollId, size});
      return {rows: data.models || [], scrollId: data.scroll_id};
    },
    bulkBar: (rows) => modelActionsBar(rows, {onDone: () => table.reload()}),
    // Right-click: the selection's actions when the row is selected, else the row's, then the custom ones.
    onRowContextMenu: (row, event, tableApi) => {
      const chosen = tableApi.selectedRows();
      const rows = chosen.some((r) => r.id === row.id) ? chosen : [row];
      contextMenu(event, uiActionItems('model', rows.map((r) => r.id)).then((custom) => [
        ...modelActionItems(rows, {onDone: () => table.reload()}), {separator: true}, ...custom]));
    },
    onStateChange: ({visible: cols, sort, filters: f}) => {
      setQuery({columns: cols.join(','), order: encodeSort(sort).join(','),
        filter: Object.keys(f).length ? JSON.stringify(f) : null});
      saveTablePrefs('models', projectId, {columns: cols, sort});
    },
  });

  replace(root,
    projectHeader(projectId, 'models', project),
    h('div', {class: 'toolbar'},
      tableSearch(ctx, table, {id: 'model', label: 'Search models'}),
      h('span', {class: 'spacer'}),
      h('button', {type: 'button', onclick: () => table.reload()}, 'Refresh'),
      h('button', {type: 'button', onclick: () => table.openChooser()}, 'Columns')),
    table.element);
  await table.reload();
  return () => table.destroy();
}
