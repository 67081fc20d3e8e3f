// `hyperparameter` and `configuration` elements: the instance task's values as the task page's Configuration tab
// shows them (views/task/config.js, read-only), from the instance info's `task` (re-read on every live refresh).
// A hyperparameter element may narrow to a `section` (and a `name` in it); a configuration element to a `name`.
import {h, replace} from '../../../dom.js';
import {configurationView, paramsView} from '../../task/config.js';

function hyperparameters(task, element) {
  const all = task?.hyperparams || {};
  const sections = element.section !== undefined && element.section !== null && element.section !== ''
    ? [String(element.section)] : Object.keys(all).sort();
  const views = [];
  for (const section of sections) {
    let params = all[section] || {};
    if (element.name) params = Object.fromEntries(Object.entries(params).filter(([, p]) => p?.name === element.name));
    if (!Object.keys(params).length && sections.length > 1) continue;
    views.push(paramsView({hyperparams: {[section]: params}}, {name: section, label: section}, false));
  }
  return views.length ? views : h('p', {class: 'muted'}, 'No hyperparameters');
}

function configurations(task, element) {
  const all = task?.configuration || {};
  const names = element.name ? [String(element.name)] : Object.keys(all).sort();
  const views = names.filter((name) => all[name] || element.name)
    .map((name) => configurationView({configuration: all}, {name}, false));
  return views.length ? views : h('p', {class: 'muted'}, 'No configuration');
}

export function mount(body, element, ctx) {
  const box = h('div', {class: 'app-params'});
  body.append(box);
  let shown = null;
  const update = (info, el) => {
    const task = info?.task || {};
    const data = el.type === 'configuration' ? task.configuration : task.hyperparams;
    const signature = JSON.stringify(data || {});
    if (signature === shown) return;
    shown = signature;
    replace(box, el.type === 'configuration' ? configurations(task, el) : hyperparameters(task, el));
  };
  update(ctx.info(), element);
  return {update};
}
