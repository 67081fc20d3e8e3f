// The actions on tasks, shared by the tasks table's bulk bar and the task page's menu button. Each action
// says which of the given tasks it applies to (the reference app's rules: abort only queued or running tasks,
// delete only archived ones...), and its button says so: "Abort (2 of 3)". Bulk work goes through the API's
// *_many endpoints; per-task failures are listed in a dialog.
//
// Exports (used by views/tasks.js and by the task page):
//   TASK_ACTION_FIELDS                     the task fields the rules read: add them to only_fields
//   taskActionsBar(tasks, {onDone, projectId})   -> Node: one button per action, for a table's selection
//   taskActionsMenu(tasks, {onDone, projectId, label = 'Actions', extraItems}) -> Node: a menu button
//       (role=menu) with the same actions; the task page passes [task]; extraItems: async () -> [{label,
//       title, run}] appended below them when the menu opens (the custom actions of ui_actions.js)
//   taskActionItems(tasks, {onDone, projectId}) -> [{label, run, disabled, danger}] for a context menu
//   runTaskAction(actionId, tasks, {onDone, projectId}) -> Promise<result|null>
//   applicableTasks(actionId, tasks)        -> the tasks the action applies to
// onDone({action, succeeded: [ids], failed: [{id, message}], created?: id}) runs after the API answered,
// so the caller reloads what it shows.
import {api} from '../api.js';
import {navigate} from '../router.js';
import {h, toast} from '../dom.js';
import {alertDialog, confirmDialog, editTags, formDialog, pickProject, pickQueue} from './dialogs.js';
import {menuItems} from './ui_actions.js';

export const TASK_ACTION_FIELDS = ['name', 'status', 'type', 'system_tags', 'tags', 'company', 'project.name',
  'execution.queue'];

const archived = (t) => (t.system_tags || []).includes('archived');
// Public ("example") tasks of another company are read-only, as in the reference app.
const readOnly = (t) => t.company !== undefined && t.company !== null && (t.company === '' || t.company?.id === '');
const writable = (t) => !readOnly(t);
const projectOf = (t) => (typeof t.project === 'object' ? t.project?.id : t.project) || null;

const ACTIONS = [
  {id: 'enqueue', label: 'Enqueue', verb: 'enqueued',
    applies: (t) => ['created', 'stopped'].includes(t.status) && t.type !== 'manual_annotation',
    run: async (tasks) => {
      const queue = await pickQueue({title: `Enqueue ${count(tasks)}`});
      return queue && many('tasks.enqueue_many', tasks, {queue: queue.id});
    }},
  {id: 'dequeue', label: 'Dequeue', verb: 'dequeued', applies: (t) => t.status === 'queued',
    run: (tasks) => many('tasks.dequeue_many', tasks)},
  {id: 'abort', label: 'Abort', verb: 'aborted', applies: (t) => ['queued', 'in_progress'].includes(t.status),
    run: async (tasks) => (await confirmDialog({title: 'Abort', confirmLabel: 'Abort', danger: true,
      message: `Abort ${count(tasks)}? Their runs stop; results reported so far are kept.`}))
      && many('tasks.stop_many', tasks)},
  {id: 'reset', label: 'Reset', verb: 'reset',
    applies: (t) => !['created', 'published', 'publishing'].includes(t.status),
    run: async (tasks) => (await confirmDialog({title: 'Reset', confirmLabel: 'Reset', danger: true,
      message: `Reset ${count(tasks)}? Their results (metrics, logs, output models and artifacts) are deleted.`}))
      && many('tasks.reset_many', tasks, {delete_output_models: true})},
  {id: 'publish', label: 'Publish', verb: 'published',
    applies: (t) => ['stopped', 'closed', 'completed', 'failed'].includes(t.status),
    run: async (tasks) => (await confirmDialog({title: 'Publish', confirmLabel: 'Publish',
      message: `Publish ${count(tasks)}? Published tasks can no longer be changed.`}))
      && many('tasks.publish_many', tasks, {publish_model: true})},
  {id: 'clone', label: 'Clone', verb: 'cloned', single: true, applies: () => true, run: cloneTask},
  {id: 'move', label: 'Move to project', verb: 'moved', applies: writable,
    run: async (tasks) => {
      const project = await pickProject({title: `Move ${count(tasks)} to project`,
        exclude: [...new Set(tasks.map(projectOf).filter(Boolean))]});
      if (!project) return null;
      const body = project.id ? {project: project.id} : {project_name: project.name};
      await api('tasks.move', {ids: tasks.map((t) => t.id), ...body});
      return {succeeded: tasks.map((t) => t.id), failed: []};
    }},
  {id: 'tags', label: 'Tags', verb: 'tagged', applies: writable,
    run: async (tasks) => {
      const common = (tasks[0]?.tags || []).filter((tag) => tasks.every((t) => (t.tags || []).includes(tag)));
      const change = await editTags({title: `Tags of ${count(tasks)}`, current: common});
      if (!change || (!change.add.length && !change.remove.length)) return null;
      await api('tasks.update_tags', {ids: tasks.map((t) => t.id), add_tags: change.add, remove_tags: change.remove});
      return {succeeded: tasks.map((t) => t.id), failed: []};
    }},
  {id: 'archive', label: 'Archive', verb: 'archived', applies: (t) => !archived(t),
    run: (tasks) => many('tasks.archive_many', tasks)},
  {id: 'restore', label: 'Restore', verb: 'restored', applies: archived,
    run: (tasks) => many('tasks.unarchive_many', tasks)},
  {id: 'delete', label: 'Delete', verb: 'deleted', danger: true, applies: archived,
    run: async (tasks) => (await confirmDialog({title: 'Delete', confirmLabel: 'Delete', danger: true,
      message: `Delete ${count(tasks)} permanently, with their logs, metrics, artifacts and output models?`}))
      && many('tasks.delete_many', tasks, {delete_output_models: true, return_file_urls: false})},
];

function count(tasks) {
  return tasks.length === 1 ? `"${tasks[0].name || tasks[0].id}"` : `${tasks.length} tasks`;
}

/** Run one *_many endpoint; its {succeeded, failed} as ids and messages. */
async function many(endpoint, tasks, extra = {}) {
  const data = await api(endpoint, {ids: tasks.map((t) => t.id), ...extra});
  const names = Object.fromEntries(tasks.map((t) => [t.id, t.name]));
  return {
    succeeded: (data.succeeded || []).map((s) => s.id),
    failed: (data.failed || []).map((f) => ({id: f.id, name: names[f.id],
      message: f.error?.msg || JSON.stringify(f.error || {})})),
  };
}

async function cloneTask([task]) {
  let created = null;
  const values = await formDialog({
    title: 'Clone task', submitLabel: 'Clone',
    fields: [
      {name: 'name', label: 'New name', value: `Clone Of ${task.name || task.id}`, required: true},
      {name: 'project', label: 'Project', value: task.project?.name || '',
        placeholder: 'Project path (the same project when empty)'},
    ],
    validate: (v) => (v.name.trim() ? null : 'Please add a name.'),
    submit: async (v) => {
      const body = {task: task.id, new_task_name: v.name.trim()};
      const path = v.project.trim();
      if (path && path !== (task.project?.name || '')) body.new_project_name = path;
      created = (await api('tasks.clone', body)).id;
    },
  });
  if (!values || !created) return null;
  return {succeeded: [task.id], failed: [], created};
}

export function applicableTasks(actionId, tasks) {
  const action = ACTIONS.find((a) => a.id === actionId);
  if (!action) return [];
  if (action.single && tasks.length !== 1) return [];
  return tasks.filter((t) => writable(t) || actionId === 'clone').filter(action.applies);
}

export async function runTaskAction(actionId, tasks, {onDone, projectId} = {}) {
  const action = ACTIONS.find((a) => a.id === actionId);
  const targets = applicableTasks(actionId, tasks);
  if (!action || !targets.length) return null;
  let result;
  try {
    result = await action.run(targets);
  } catch (err) {
    toast(`${action.label} failed: ${err.message}`, 'error', 8000);
    onDone?.({action: actionId, succeeded: [], failed: targets.map((t) => ({id: t.id, message: err.message}))});
    return null;
  }
  if (!result) return null; // cancelled
  report(action, targets, result);
  // Deleted the task whose page this is: back to its project's table rather than a page about nothing.
  const shownHere = actionId === 'delete'
    && result.succeeded.some((id) => location.pathname.includes(`/tasks/${id}`));
  if (shownHere) {
    navigate(`/projects/${projectId || '*'}/tasks`);
    return result;
  }
  onDone?.({action: actionId, ...result});
  if (result.created) navigate(`/projects/${projectId || '*'}/tasks/${result.created}/execution`);
  return result;
}

function report(action, targets, {succeeded, failed}) {
  const total = targets.length;
  const noun = total === 1 ? 'task' : 'tasks';
  if (succeeded.length) {
    toast(`${succeeded.length === total ? total : `${succeeded.length} of ${total}`} ${noun} ${action.verb}`,
      failed.length ? 'info' : 'success');
  }
  if (failed.length) {
    alertDialog({
      title: `${failed.length} of ${total} ${noun} not ${action.verb}`,
      message: h('ul', {class: 'failure-list'}, failed.map((f) => h('li', {},
        h('strong', {}, f.name || f.id), ': ', f.message))),
    });
  }
}

/** "Abort (2 of 3)": what the action does and to how many of the selection. */
function labelFor(action, tasks) {
  const n = applicableTasks(action.id, tasks).length;
  return tasks.length > 1 ? `${action.label} (${n} of ${tasks.length})` : action.label;
}

function compareButton(tasks, projectId) {
  const ids = tasks.map((t) => t.id);
  const ok = ids.length >= 2 && ids.length <= 100;
  return h('button', {type: 'button', disabled: !ok, title: ok ? null : 'Select 2 to 100 tasks',
    onclick: () => navigate(`/projects/${projectId || '*'}/compare-tasks;ids=${ids.join(',')}/scalars/graph`)},
  `Compare (${ok ? ids.length : 0} of ${ids.length})`);
}

export function taskActionsBar(tasks, {onDone, projectId} = {}) {
  const buttons = ACTIONS.map((action) => {
    const n = applicableTasks(action.id, tasks).length;
    return h('button', {type: 'button', class: action.danger ? 'danger' : null, disabled: n === 0,
      dataset: {action: action.id},
      onclick: () => runTaskAction(action.id, tasks, {onDone, projectId})}, labelFor(action, tasks));
  });
  return h('div', {class: 'task-actions'}, compareButton(tasks, projectId), buttons);
}

export function taskActionItems(tasks, {onDone, projectId} = {}) {
  return ACTIONS.map((action) => ({label: labelFor(action, tasks), danger: action.danger,
    disabled: !applicableTasks(action.id, tasks).length, run: () => runTaskAction(action.id, tasks, {onDone, projectId})}));
}

export function taskActionsMenu(tasks, {onDone, projectId, label = 'Actions', extraItems} = {}) {
  const menuId = `task-menu-${Math.random().toString(36).slice(2, 8)}`;
  const button = h('button', {type: 'button', 'aria-haspopup': 'menu', 'aria-expanded': 'false',
    'aria-controls': menuId}, label, ' ▾');
  const menu = h('div', {role: 'menu', id: menuId, class: 'menu', hidden: true, 'aria-label': label});
  const box = h('div', {class: 'menu-box'}, button, menu);
  const items = () => [...menu.querySelectorAll('[role=menuitem]:not([disabled])')];
  let openings = 0;
  const close = () => {
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    document.removeEventListener('mousedown', outside, true);
  };
  const outside = (event) => { if (!box.contains(event.target)) close(); };
  const open = () => {
    menu.replaceChildren(...ACTIONS.map((action) => {
      const n = applicableTasks(action.id, tasks).length;
      return h('button', {type: 'button', role: 'menuitem', disabled: n === 0, class: action.danger ? 'danger' : null,
        dataset: {action: action.id},
        onclick: () => { close(); runTaskAction(action.id, tasks, {onDone, projectId}); }},
      labelFor(action, tasks));
    }));
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    document.addEventListener('mousedown', outside, true);
    items()[0]?.focus();
    const opening = ++openings; // a reopened menu is drawn anew: an older answer is not appended to it
    extraItems?.().then((extra) => {
      if (!menu.hidden && opening === openings) menu.append(...menuItems([{separator: true}, ...extra], close));
    }).catch((error) => console.warn('extra menu items unavailable', error));
  };
  button.addEventListener('click', () => (menu.hidden ? open() : close()));
  menu.addEventListener('keydown', (event) => {
    const list = items();
    const at = list.indexOf(document.activeElement);
    if (event.key === 'Escape') { close(); button.focus(); }
    if (event.key === 'ArrowDown') { event.preventDefault(); list[(at + 1) % list.length]?.focus(); }
    if (event.key === 'ArrowUp') { event.preventDefault(); list[(at - 1 + list.length) % list.length]?.focus(); }
  });
  return box;
}
