// Info tab: the task's general fields.
import {fmtDate, fmtDuration, fmtNumber, h} from '../../dom.js';
import {kvList, section} from './execution.js';
import {api} from '../../api.js';

export async function render(container, {task, project}) {
  let userName = task.user;
  const tags = (task.tags || []).map((tag) => h('span', {class: 'tag'}, tag));
  const runtime = task.active_duration ?? (task.started && (task.completed || task.last_update)
    ? (new Date(task.completed || task.last_update) - new Date(task.started)) / 1000 : null);
  const parent = task.parent ? h('a', {href: `/projects/*/tasks/${task.parent}/general`}, task.parent) : null;
  const userCell = h('span', {}, userName || '');
  container.append(section('General', kvList([
    ['ID', h('code', {}, task.id)],
    ['Name', task.name],
    ['Type', task.type],
    ['Status', task.status],
    ['Status reason', task.status_reason],
    ['Status message', task.status_message],
    ['Project', project ? h('a', {href: `/projects/${project.id}/tasks`}, project.name) : task.project],
    ['User', userCell],
    ['Created', fmtDate(task.created)],
    ['Started', fmtDate(task.started)],
    ['Last updated', fmtDate(task.last_update)],
    ['Completed', fmtDate(task.completed)],
    ['Run time', runtime !== null ? fmtDuration(runtime) : ''],
    ['Last iteration', fmtNumber(task.last_iteration)],
    ['Worker', task.last_worker],
    ['Queue', task.execution?.queue],
    ['Parent task', parent],
    ['Tags', tags.length ? tags : ''],
    ['System tags', (task.system_tags || []).join(', ')],
    ['Description', task.comment],
  ])));
  if (task.user) {
    api('users.get_all_ex', {id: [task.user], only_fields: ['name']})
      .then(({users = []}) => { if (users[0]?.name) userCell.textContent = users[0].name; })
      .catch(() => {});
  }
  return undefined;
}
