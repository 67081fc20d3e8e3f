// Configuration tab: hyperparameter sections (hyper-params/hyper-param/<section>), user properties (the
// "properties" section) and configuration objects (hyper-params/configuration/<name>). A draft task's
// hyperparameters and configuration can be edited; user properties can be edited in any state, as the reference.
import {api} from '../../api.js';
import {errorBox, h, replace, toast} from '../../dom.js';
import {codeBlock} from './execution.js';

const PROPERTIES = 'properties';

function items(task) {
  const list = [];
  const sections = Object.keys(task.hyperparams || {}).sort((a, b) =>
    (a === PROPERTIES) - (b === PROPERTIES) || a.localeCompare(b));
  for (const name of sections) {
    list.push({kind: 'hyper-param', name, label: name === PROPERTIES ? 'User properties' : name});
  }
  if (!sections.includes(PROPERTIES)) list.push({kind: 'hyper-param', name: PROPERTIES, label: 'User properties'});
  for (const name of Object.keys(task.configuration || {}).sort()) {
    list.push({kind: 'configuration', name, label: name});
  }
  return list;
}

function paramRows(task, sectionName) {
  return Object.values(task.hyperparams?.[sectionName] || {})
    .map((p) => ({name: p.name, value: p.value ?? '', type: p.type, description: p.description}))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function paramsView(task, item, editable, onEdit) {
  const rows = paramRows(task, item.name);
  const table = rows.length
    ? h('table', {class: 'data-table params-table', 'aria-label': `${item.label} parameters`},
      h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Name'), h('th', {scope: 'col'}, 'Value'),
        h('th', {scope: 'col'}, 'Type'), h('th', {scope: 'col'}, 'Description'))),
      h('tbody', {}, rows.map((p) => h('tr', {},
        h('th', {scope: 'row'}, p.name), h('td', {class: 'param-value'}, String(p.value)),
        h('td', {class: 'muted'}, p.type || ''), h('td', {class: 'muted'}, p.description || '')))))
    : h('p', {class: 'muted'}, 'No parameters');
  return h('div', {},
    h('div', {class: 'toolbar'}, h('h2', {}, item.label), h('span', {class: 'spacer'}),
      editable ? h('button', {type: 'button', onclick: onEdit}, `Edit ${item.label}`) : null),
    table);
}

function paramsEditor(task, item, onDone) {
  const original = paramRows(task, item.name);
  const body = h('tbody');
  let n = 0;
  const addRow = (p = {name: '', value: ''}) => {
    n += 1;
    const nameInput = h('input', {id: `param-name-${n}`, value: p.name, class: 'param-name'});
    const valueInput = h('input', {id: `param-value-${n}`, value: String(p.value ?? ''), class: 'param-value'});
    const row = h('tr', {},
      h('td', {}, h('label', {for: nameInput.id, class: 'sr-only'}, 'Parameter name'), nameInput),
      h('td', {}, h('label', {for: valueInput.id, class: 'sr-only'}, `Value of ${p.name || 'new parameter'}`),
        valueInput),
      h('td', {}, h('button', {type: 'button', 'aria-label': `Remove ${p.name || 'parameter'}`,
        onclick: () => row.remove()}, 'Remove')));
    row.dataset.type = p.type || '';
    row.dataset.description = p.description || '';
    body.append(row);
  };
  original.forEach(addRow);
  const save = async () => {
    const edited = [...body.rows].map((row) => ({
      section: item.name, name: row.querySelector('.param-name').value.trim(),
      value: row.querySelector('.param-value').value,
      ...(row.dataset.type ? {type: row.dataset.type} : {}),
      ...(row.dataset.description ? {description: row.dataset.description} : {}),
    })).filter((p) => p.name);
    const kept = new Set(edited.map((p) => p.name));
    const removed = original.filter((p) => !kept.has(p.name)).map((p) => ({section: item.name, name: p.name}));
    try {
      if (removed.length) await api('tasks.delete_hyper_params', {task: task.id, hyperparams: removed, force: false});
      if (edited.length) {
        await api('tasks.edit_hyper_params', {task: task.id, hyperparams: edited, replace_hyperparams: 'none'});
      }
      toast(`${item.label} saved`, 'success');
      onDone(true);
    } catch (error) {
      toast(error.message, 'error');
    }
  };
  return h('div', {},
    h('div', {class: 'toolbar'}, h('h2', {}, `Editing ${item.label}`)),
    h('table', {class: 'data-table params-edit', 'aria-label': `Edit ${item.label}`},
      h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Name'), h('th', {scope: 'col'}, 'Value'),
        h('th', {scope: 'col'}, h('span', {class: 'sr-only'}, 'Actions')))), body),
    h('div', {class: 'toolbar edit-actions'},
      h('button', {type: 'button', onclick: () => addRow()}, 'Add parameter'),
      h('span', {class: 'spacer'}),
      h('button', {type: 'button', onclick: () => onDone(false)}, 'Cancel'),
      h('button', {type: 'button', class: 'primary', onclick: save}, 'Save')));
}

export function configurationView(task, item, editable, onEdit) {
  const config = task.configuration?.[item.name] || {};
  return h('div', {},
    h('div', {class: 'toolbar'}, h('h2', {}, item.name), h('span', {class: 'muted'}, config.type || ''),
      h('span', {class: 'spacer'}),
      editable ? h('button', {type: 'button', onclick: onEdit}, `Edit ${item.name}`) : null),
    config.description ? h('p', {class: 'muted'}, config.description) : null,
    codeBlock(config.value, `Configuration ${item.name}`, 'Empty'));
}

function configurationEditor(task, item, onDone) {
  const config = task.configuration?.[item.name] || {};
  const area = h('textarea', {id: 'config-value', class: 'config-editor', rows: 20, spellcheck: 'false'});
  area.value = config.value || '';
  const save = async () => {
    try {
      await api('tasks.edit_configuration', {task: task.id, replace_configuration: false,
        configuration: [{name: item.name, value: area.value, type: config.type, description: config.description}]});
      toast(`${item.name} saved`, 'success');
      onDone(true);
    } catch (error) {
      toast(error.message, 'error');
    }
  };
  return h('div', {},
    h('h2', {}, `Editing ${item.name}`),
    h('div', {class: 'field'}, h('label', {for: area.id}, `Value of ${item.name}`), area),
    h('div', {class: 'toolbar'}, h('span', {class: 'spacer'}),
      h('button', {type: 'button', onclick: () => onDone(false)}, 'Cancel'),
      h('button', {type: 'button', class: 'primary', onclick: save}, 'Save')));
}

export async function render(container, ctx) {
  const pane = h('div', {class: 'detail-pane'});
  const nav = h('nav', {class: 'side-list', 'aria-label': 'Configuration sections'});
  container.classList.add('split');
  container.append(nav, pane);

  const draw = () => {
    const task = ctx.currentTask();
    const list = items(task);
    const [kind, ...nameParts] = ctx.rest;
    const wanted = nameParts.join('/');
    const selected = list.find((i) => i.kind === kind && i.name === wanted) || list[0];
    replace(nav,
      h('h3', {}, 'Hyperparameters'),
      h('ul', {}, list.filter((i) => i.kind === 'hyper-param').map((i) => h('li', {},
        h('a', {href: ctx.path(i.kind, i.name), 'aria-current': i === selected ? 'page' : null}, i.label)))),
      h('h3', {}, 'Configuration objects'),
      list.some((i) => i.kind === 'configuration')
        ? h('ul', {}, list.filter((i) => i.kind === 'configuration').map((i) => h('li', {},
          h('a', {href: ctx.path(i.kind, i.name), 'aria-current': i === selected ? 'page' : null}, i.label))))
        : h('p', {class: 'muted'}, 'None'));
    if (!selected) { replace(pane, h('p', {class: 'muted'}, 'No configuration')); return; }
    const draft = task.status === 'created';
    const done = async (saved) => {
      if (saved) await ctx.reload();
      draw();
    };
    if (selected.kind === 'hyper-param') {
      const editable = draft || selected.name === PROPERTIES;
      replace(pane, paramsView(task, selected, editable, () => replace(pane, paramsEditor(task, selected, done))));
    } else {
      replace(pane, configurationView(task, selected, draft,
        () => replace(pane, configurationEditor(task, selected, done))));
    }
  };
  try {
    draw();
  } catch (error) {
    replace(pane, errorBox(error));
  }
  return ctx.onTaskChange(() => { if (!pane.querySelector('input, textarea')) draw(); });
}
