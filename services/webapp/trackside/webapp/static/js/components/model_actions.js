// The actions on models, for the models table's bulk bar and the model page's menu: publish, move, tags,
// archive/restore, delete, each saying how many of the selection it applies to ("Publish (1 of 2)"), through
// the models.*_many endpoints, with per-model failures listed.
//
//   MODEL_ACTION_FIELDS                                  add to only_fields
//   modelActionsBar(models, {onDone})   -> Node
//   modelActionsMenu(models, {onDone, label = 'Model actions', extraItems}) -> Node (role=menu); extraItems:
//       async () -> [{label, title, run}] appended when the menu opens (the custom actions of ui_actions.js)
//   modelActionItems(models, {onDone}) -> [{label, run, disabled, danger}] for a context menu
import {api} from '../api.js';
import {h, toast} from '../dom.js';
import {alertDialog, confirmDialog, editTags, pickProject} from './dialogs.js';
import {menuItems} from './ui_actions.js';

export const MODEL_ACTION_FIELDS = ['name', 'ready', 'system_tags', 'tags', 'company', 'project.name'];

const archived = (m) => (m.system_tags || []).includes('archived');
const readOnly = (m) => m.company !== undefined && m.company !== null && (m.company === '' || m.company?.id === '');
const count = (models) => (models.length === 1 ? `"${models[0].name || models[0].id}"` : `${models.length} models`);

async function many(endpoint, models, extra = {}) {
  const data = await api(endpoint, {ids: models.map((m) => m.id), ...extra});
  const names = Object.fromEntries(models.map((m) => [m.id, m.name]));
  return {succeeded: (data.succeeded || []).map((s) => s.id),
    failed: (data.failed || []).map((f) => ({id: f.id, name: names[f.id], message: f.error?.msg || 'failed'}))};
}

const ACTIONS = [
  {id: 'publish', label: 'Publish', verb: 'published', applies: (m) => !m.ready,
    run: async (models) => (await confirmDialog({title: 'Publish', confirmLabel: 'Publish',
      message: `Publish ${count(models)}? Published models can no longer be changed.`}))
      && many('models.publish_many', models)},
  {id: 'move', label: 'Move to project', verb: 'moved', applies: () => true,
    run: async (models) => {
      const project = await pickProject({title: `Move ${count(models)} to project`});
      if (!project) return null;
      await api('models.move', {ids: models.map((m) => m.id),
        ...(project.id ? {project: project.id} : {project_name: project.name})});
      return {succeeded: models.map((m) => m.id), failed: []};
    }},
  {id: 'tags', label: 'Tags', verb: 'tagged', applies: () => true,
    run: async (models) => {
      const common = (models[0]?.tags || []).filter((tag) => models.every((m) => (m.tags || []).includes(tag)));
      const change = await editTags({title: `Tags of ${count(models)}`, current: common});
      if (!change || (!change.add.length && !change.remove.length)) return null;
      await api('models.update_tags', {ids: models.map((m) => m.id), add_tags: change.add,
        remove_tags: change.remove});
      return {succeeded: models.map((m) => m.id), failed: []};
    }},
  {id: 'archive', label: 'Archive', verb: 'archived', applies: (m) => !archived(m),
    run: (models) => many('models.archive_many', models)},
  {id: 'restore', label: 'Restore', verb: 'restored', applies: archived,
    run: (models) => many('models.unarchive_many', models)},
  {id: 'delete', label: 'Delete', verb: 'deleted', danger: true, applies: archived,
    run: async (models) => (await confirmDialog({title: 'Delete', confirmLabel: 'Delete', danger: true,
      message: `Delete ${count(models)} permanently?`})) && many('models.delete_many', models)},
];

export function applicableModels(actionId, models) {
  const action = ACTIONS.find((a) => a.id === actionId);
  return action ? models.filter((m) => !readOnly(m)).filter(action.applies) : [];
}

async function run(action, models, onDone) {
  const targets = applicableModels(action.id, models);
  if (!targets.length) return;
  let result;
  try {
    result = await action.run(targets);
  } catch (err) {
    toast(`${action.label} failed: ${err.message}`, 'error', 8000);
    return;
  }
  if (!result) return;
  const total = targets.length;
  const noun = total === 1 ? 'model' : 'models';
  if (result.succeeded.length) {
    const done = result.succeeded.length === total ? total : `${result.succeeded.length} of ${total}`;
    toast(`${done} ${noun} ${action.verb}`,
      result.failed.length ? 'info' : 'success');
  }
  if (result.failed.length) {
    alertDialog({title: `${result.failed.length} of ${total} ${noun} not ${action.verb}`,
      message: h('ul', {class: 'failure-list'}, result.failed.map((f) => h('li', {}, h('strong', {}, f.name || f.id),
        ': ', f.message)))});
  }
  onDone?.({action: action.id, ...result});
}

const label = (action, models) => (models.length > 1
  ? `${action.label} (${applicableModels(action.id, models).length} of ${models.length})` : action.label);

export function modelActionsBar(models, {onDone} = {}) {
  return h('div', {class: 'task-actions'}, ACTIONS.map((action) => h('button', {type: 'button',
    class: action.danger ? 'danger' : null, disabled: !applicableModels(action.id, models).length,
    onclick: () => run(action, models, onDone)}, label(action, models))));
}

export function modelActionItems(models, {onDone} = {}) {
  return ACTIONS.map((action) => ({label: label(action, models), danger: action.danger,
    disabled: !applicableModels(action.id, models).length, run: () => run(action, models, onDone)}));
}

export function modelActionsMenu(models, {onDone, label: name = 'Model actions', extraItems} = {}) {
  const button = h('button', {type: 'button', 'aria-haspopup': 'menu', 'aria-expanded': 'false'}, name, ' ▾');
  const menu = h('div', {role: 'menu', class: 'menu', hidden: true, 'aria-label': name});
  const box = h('div', {class: 'menu-box'}, button, menu);
  const outside = (event) => { if (!box.contains(event.target)) close(); };
  let openings = 0;
  const close = () => {
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    document.removeEventListener('mousedown', outside, true);
  };
  button.addEventListener('click', () => {
    if (!menu.hidden) { close(); return; }
    menu.replaceChildren(...ACTIONS.map((action) => h('button', {type: 'button', role: 'menuitem',
      disabled: !applicableModels(action.id, models).length,
      onclick: () => { close(); run(action, models, onDone); }}, label(action, models))));
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    document.addEventListener('mousedown', outside, true);
    menu.querySelector('[role=menuitem]:not([disabled])')?.focus();
    const opening = ++openings; // a reopened menu is drawn anew: an older answer is not appended to it
    extraItems?.().then((extra) => {
      if (!menu.hidden && opening === openings) menu.append(...menuItems([{separator: true}, ...extra], close));
    }).catch((error) => console.warn('extra menu items unavailable', error));
  });
  menu.addEventListener('keydown', (event) => { if (event.key === 'Escape') { close(); button.focus(); } });
  return box;
}
