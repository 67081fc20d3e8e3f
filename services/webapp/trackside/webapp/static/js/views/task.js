// The task page at the reference app's paths: /projects/<p>/tasks/<t>/<tab> and the full-screen variant
// /projects/<p>/tasks/<t>/output/<tab> (the SDK prints .../output/log). The header (name, status, id, project,
// actions) stays in place while tabs switch; each tab is a module under views/task/ exporting
// render(container, ctx) -> cleanup. A running task is re-read every few seconds so the header and the live
// tabs (console, scalars) follow it.
import {api} from '../api.js';
import {errorBox, h, replace, statusBadge} from '../dom.js';
import {navigate} from '../router.js';
import {uiActionItems} from '../components/ui_actions.js';

// Tab ids as the reference names them; `path` is the tab's path after /tasks/<t>/ (details layout).
export const TABS = [
  {id: 'execution', label: 'Execution', path: 'execution', load: () => import('./task/execution.js')},
  {id: 'hyper-params', label: 'Configuration', path: 'hyper-params', load: () => import('./task/config.js')},
  {id: 'artifacts', label: 'Artifacts', path: 'artifacts', load: () => import('./task/artifacts.js')},
  {id: 'general', label: 'Info', path: 'general', load: () => import('./task/info.js')},
  {id: 'log', label: 'Console', path: 'info-output/log', load: () => import('./task/console.js')},
  {id: 'scalar', label: 'Scalars', path: 'info-output/metrics/scalar', load: () => import('./task/scalars.js')},
  {id: 'plots', label: 'Plots', path: 'info-output/metrics/plots', load: () => import('./task/plots.js')},
  {id: 'debugImages', label: 'Debug samples', path: 'info-output/debugImages',
    load: () => import('./task/debug_images.js')},
];

const ACTIVE = new Set(['in_progress', 'queued']);
const POLL_MS = 4000;

/** {tab, rest, fullScreen} from the router's params.tab (the path after /tasks/<t>/). */
export function parseTab(tabPath) {
  let parts = (tabPath || '').split('/').filter(Boolean);
  let fullScreen = false;
  if (parts[0] === 'output') { fullScreen = true; parts = parts.slice(1); }
  if (parts[0] === 'info-output') parts = parts.slice(1);
  if (parts[0] === 'metrics') parts = parts.slice(1);
  const head = parts[0] || (fullScreen ? 'log' : 'execution');
  const tab = TABS.find((t) => t.id === head) || TABS[0];
  return {tab, rest: parts.slice(1), fullScreen};
}

export function tabPath(projectId, taskId, tab, fullScreen, rest = []) {
  const base = `/projects/${encodeURIComponent(projectId)}/tasks/${encodeURIComponent(taskId)}`;
  const path = fullScreen ? tab.path.replace(/^info-output\//, '') : tab.path;
  return [base, fullScreen ? 'output' : null, path, ...rest.map(encodeURIComponent)].filter(Boolean).join('/');
}

async function loadTask(taskId) {
  const {tasks = []} = await api('tasks.get_all_ex', {id: [taskId], only_fields: undefined});
  if (!tasks.length) throw new Error(`Task ${taskId} was not found`);
  return tasks[0];
}

// Kept between tab switches of the same task so the header is not rebuilt.
let page = null; // {taskId, el, task, listeners:Set, header, body, tabs}

function header(task, project) {
  const actions = h('div', {class: 'task-actions-slot'});
  // The actions menu (helper module shared with the tasks table); the page works without it.
  import('../components/task_actions.js').then(({taskActionsMenu}) => {
    if (typeof taskActionsMenu !== 'function') return;
    actions.append(taskActionsMenu([task], {projectId: project?.id || task.project, label: 'Task actions',
      onDone: () => refresh(true), extraItems: () => uiActionItems('task', [task.id])}));
  }).catch((error) => console.warn('task actions unavailable', error));
  return h('header', {class: 'task-header'},
    h('div', {class: 'breadcrumbs'},
      h('a', {href: '/projects'}, 'Projects'), ' / ',
      h('a', {href: `/projects/${project?.id || task.project || '*'}/tasks`, class: 'task-project-link'},
        project?.name || 'Tasks'), ' / '),
    h('div', {class: 'task-title-row'},
      h('h1', {class: 'task-name'}, task.name || task.id),
      h('span', {class: 'task-status'}, statusBadge(task.status)),
      h('span', {class: 'muted task-type'}, task.type || ''),
      h('span', {class: 'spacer'}),
      h('span', {class: 'task-id muted'}, 'ID ', h('code', {}, task.id)),
      h('button', {type: 'button', class: 'copy-id', 'aria-label': 'Copy task ID',
        onclick: () => navigator.clipboard?.writeText(task.id)}, 'Copy'),
      actions));
}

function tabBar(ctx, current, fullScreen) {
  const {projectId, taskId} = ctx.params;
  const list = h('div', {class: 'tabs', role: 'tablist', 'aria-label': 'Task sections'});
  for (const tab of TABS) {
    const selected = tab === current;
    list.append(h('a', {role: 'tab', id: `tab-${tab.id}`, href: tabPath(projectId, taskId, tab, fullScreen),
      'aria-selected': String(selected), 'aria-controls': 'task-tab-panel', tabindex: selected ? '0' : '-1',
      class: 'tab'}, tab.label));
  }
  list.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
    const index = TABS.indexOf(current) + (event.key === 'ArrowRight' ? 1 : -1);
    const next = TABS[(index + TABS.length) % TABS.length];
    navigate(tabPath(projectId, taskId, next, fullScreen));
  });
  const toggle = h('a', {class: 'button full-screen-toggle', href: tabPath(projectId, taskId, current, !fullScreen),
    'aria-label': fullScreen ? 'Exit full screen' : 'Full screen'}, fullScreen ? 'Exit full screen' : 'Full screen');
  return h('div', {class: 'task-tabbar'}, list, toggle);
}

async function refresh(force = false) {
  const current = page;
  if (!current) return;
  try {
    if (!force) {
      // A light read first (status and last update only); the whole task only when it changed.
      const {tasks = []} = await api('tasks.get_all_ex',
        {id: [current.taskId], only_fields: ['status', 'last_update']});
      const light = tasks[0];
      if (!light || (light.status === current.task.status && light.last_update === current.task.last_update)) return;
    }
    const task = await loadTask(current.taskId);
    if (page !== current) return;
    current.task = task;
    // Rebuilt, so the actions menu reads the new status.
    const head = header(task, current.project);
    current.head.replaceWith(head);
    current.head = head;
    for (const listener of current.listeners) listener(task);
  } catch (error) {
    console.warn('task refresh failed', error);
  }
}

export async function render(ctx) {
  const {root, params} = ctx;
  const {taskId, projectId} = params;
  const {tab, rest, fullScreen} = parseTab(params.tab);
  let reuse = page && page.taskId === taskId && root.contains(page.el) && page.fullScreen === fullScreen;
  if (!reuse) {
    page = null;
    replace(root, h('p', {class: 'muted'}, 'Loading task…'));
    let task;
    let project = null;
    try {
      task = await loadTask(taskId);
      if (task.project) {
        project = await api('projects.get_by_id', {project: task.project}).then((r) => r.project).catch(() => null);
      }
    } catch (error) {
      replace(root, errorBox(error));
      return undefined;
    }
    const el = h('div', {class: `task-page${fullScreen ? ' full-screen' : ''}`, dataset: {taskPage: taskId}});
    page = {taskId, el, task, project, fullScreen, listeners: new Set()};
    const head = header(task, project);
    page.head = head;
    page.tabsSlot = h('div');
    page.body = h('section', {id: 'task-tab-panel', role: 'tabpanel', class: 'task-tab-panel'});
    replace(el, head, page.tabsSlot, page.body);
    replace(root, el);
    const mine = page;
    mine.timer = setInterval(() => {
      if (page !== mine || !document.body.contains(mine.el)) {
        clearInterval(mine.timer); // left the task page
        if (page === mine) page = null;
        return;
      }
      if (ACTIVE.has(mine.task.status) && document.visibilityState === 'visible') refresh();
    }, POLL_MS);
  }
  const mine = page;
  replace(mine.tabsSlot, tabBar(ctx, tab, fullScreen));
  mine.body.setAttribute('aria-labelledby', `tab-${tab.id}`);
  replace(mine.body, h('p', {class: 'muted'}, 'Loading…'));
  document.title = `${mine.task.name || taskId} · ${tab.label} · Trackside`;
  let tabCleanup = null;
  let gone = false;
  try {
    const module = await tab.load();
    if (!gone && page === mine) {
      const container = h('div', {class: `task-tab task-tab-${tab.id}`});
      replace(mine.body, container);
      tabCleanup = await module.render(container, {
        task: mine.task, project: mine.project, projectId: projectId, taskId, rest, fullScreen, tab,
        path: (...segments) => tabPath(projectId, taskId, tab, fullScreen, segments),
        onTaskChange: (fn) => { mine.listeners.add(fn); return () => mine.listeners.delete(fn); },
        isRunning: () => ACTIVE.has(page?.task?.status),
        currentTask: () => mine.task,
        reload: () => refresh(true),
      });
    }
  } catch (error) {
    replace(mine.body, errorBox(error));
  }
  // The router calls this before the next render: stop this tab; the header stays for the same task.
  return () => {
    gone = true;
    mine.listeners.clear();
    if (typeof tabCleanup === 'function') {
      try { tabCleanup(); } catch (error) { console.error(error); }
    }
  };
}
