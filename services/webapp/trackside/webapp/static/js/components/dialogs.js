// Modal dialogs built on <dialog>: each one resolves a Promise with the user's answer (null / false when
// cancelled). Every field has a <label>; the dialog is named by its heading (aria-labelledby).
//
//   confirmDialog({title, message, confirmLabel, danger})            -> Promise<boolean>
//   formDialog({title, fields, submitLabel, validate, submit})        -> Promise<values|null>
//   pickQueue({title, confirmLabel})                                  -> Promise<{id, name}|null>
//   pickProject({title, confirmLabel, exclude, allowNew})             -> Promise<{id, name}|{name}|null>
//   editTags({title, current, partial})                               -> Promise<{add: [], remove: []}|null>
import {api} from '../api.js';
import {debounce, h} from '../dom.js';

let serial = 0;
const nextId = (prefix) => `${prefix}-${++serial}`;

/** Open a modal <dialog>; `build(close)` returns its content. Resolves with what close() was given. */
export function openDialog(title, build, {className = ''} = {}) {
  return new Promise((resolve) => {
    const headingId = nextId('dialog-title');
    const dialog = h('dialog', {'aria-labelledby': headingId, class: className});
    let settled = false;
    const close = (value) => {
      if (settled) return;
      settled = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    dialog.addEventListener('cancel', (event) => { event.preventDefault(); close(null); });
    dialog.append(h('h2', {id: headingId}, title), build(close));
    document.body.append(dialog);
    dialog.showModal();
    const first = dialog.querySelector('[autofocus], input:not([type=hidden]), select, textarea');
    first?.focus();
  });
}

function actions(close, submitLabel, {danger = false, cancelLabel = 'Cancel'} = {}) {
  return h('div', {class: 'actions'},
    h('button', {type: 'button', onclick: () => close(null)}, cancelLabel),
    submitLabel ? h('button', {type: 'submit', class: danger ? 'primary danger-fill' : 'primary'}, submitLabel) : null);
}

export async function confirmDialog({title, message, confirmLabel = 'OK', cancelLabel = 'Cancel', danger = false}) {
  const answer = await openDialog(title, (close) => {
    const form = h('form', {method: 'dialog', onsubmit: (event) => { event.preventDefault(); close(true); }},
      h('div', {class: 'dialog-message'}, message),
      actions(close, confirmLabel, {danger, cancelLabel}));
    return form;
  });
  return answer === true;
}

/** A message with a single button (nothing to decide). */
export async function alertDialog({title, message, okLabel = 'OK'}) {
  await openDialog(title, (close) => h('form', {onsubmit: (event) => { event.preventDefault(); close(true); }},
    h('div', {class: 'dialog-message'}, message),
    h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, okLabel))));
}

/**
 * A small form. fields: [{name, label, value, type ('text'|'textarea'|'select'), options: [{value, label}],
 * required, placeholder}]. validate(values) -> error text or null (shown, keeps the dialog open);
 * submit(values) -> Promise (an exception's message is shown, keeps the dialog open). Resolves to the values.
 */
export function formDialog({title, fields, submitLabel = 'Save', validate, submit, intro}) {
  return openDialog(title, (close) => {
    const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
    const controls = {};
    const rows = fields.map((field) => {
      const id = nextId(`field-${field.name}`);
      let control;
      if (field.type === 'textarea') {
        control = h('textarea', {id, name: field.name, rows: 3, placeholder: field.placeholder}, field.value || '');
      } else if (field.type === 'select') {
        control = h('select', {id, name: field.name},
          field.options.map((o) => h('option', {value: o.value, selected: o.value === field.value}, o.label)));
      } else {
        control = h('input', {id, name: field.name, type: 'text', value: field.value || '', autocomplete: 'off',
          required: field.required, placeholder: field.placeholder, list: field.list});
      }
      controls[field.name] = control;
      return h('div', {class: 'field'}, h('label', {for: id}, field.label), control, field.extra || null);
    });
    const values = () => Object.fromEntries(Object.entries(controls).map(([k, c]) => [k, c.value]));
    const showError = (text) => { error.textContent = text || ''; error.hidden = !text; };
    const busy = (on) => { for (const b of form.querySelectorAll('button')) b.disabled = on; };
    const form = h('form', {
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        const current = values();
        const problem = validate ? await validate(current) : null;
        if (problem) { showError(problem); return; }
        if (submit) {
          busy(true);
          try {
            await submit(current);
          } catch (err) {
            busy(false);
            showError(err?.message || String(err));
            return;
          }
        }
        close(current);
      },
    }, intro || null, rows, error, actions(close, submitLabel));
    return form;
  });
}

/** Choose a queue (queues.get_all); the default queue is preselected. */
export function pickQueue({title = 'Enqueue', confirmLabel = 'Enqueue', intro} = {}) {
  return openDialog(title, (close) => {
    const id = nextId('queue');
    const select = h('select', {id, name: 'queue', disabled: true}, h('option', {value: ''}, 'Loading queues…'));
    const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
    let queues = [];
    api('queues.get_all', {only_fields: ['id', 'name', 'system_tags'], order_by: ['name']}).then((data) => {
      queues = data.queues || [];
      select.replaceChildren(...queues.map((q) => h('option', {value: q.id,
        selected: (q.system_tags || []).includes('default')}, q.name)));
      select.disabled = false;
      if (!queues.length) { error.textContent = 'There are no queues.'; error.hidden = false; }
    }).catch((err) => { error.textContent = err.message; error.hidden = false; });
    return h('form', {onsubmit: (event) => {
      event.preventDefault();
      const queue = queues.find((q) => q.id === select.value);
      if (queue) close({id: queue.id, name: queue.name});
    }}, intro || null, h('div', {class: 'field'}, h('label', {for: id}, 'Queue'), select), error,
    actions(close, confirmLabel));
  });
}

/**
 * Choose a project by searching its path (projects.get_all_ex, name regex). With allowNew, a path that does not
 * exist is returned as {name} so the caller can create it (tasks.move / models.move take project_name).
 */
export function pickProject({title = 'Move to project', confirmLabel = 'Move', exclude = [], allowNew = true,
  intro} = {}) {
  return openDialog(title, (close) => {
    const id = nextId('project');
    const listId = nextId('project-list');
    const input = h('input', {id, name: 'project', type: 'text', autocomplete: 'off', list: listId,
      placeholder: 'Search for a project path'});
    const datalist = h('datalist', {id: listId});
    const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
    let found = [];
    const search = debounce(async () => {
      const text = input.value.trim();
      const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      try {
        const data = await api('projects.get_all_ex', {
          ...(text && {name: escaped}), only_fields: ['id', 'name'], order_by: ['name'], size: 50,
          search_hidden: false});
        found = (data.projects || []).filter((p) => !exclude.includes(p.id));
        datalist.replaceChildren(...found.map((p) => h('option', {value: p.name})));
      } catch (err) {
        error.textContent = err.message; error.hidden = false;
      }
    }, 200);
    input.addEventListener('input', search);
    search();
    return h('form', {onsubmit: (event) => {
      event.preventDefault();
      const text = input.value.trim().replace(/^\/+|\/+$/g, '');
      if (!text) { error.textContent = 'Choose a project.'; error.hidden = false; return; }
      const project = found.find((p) => p.name === text);
      if (project) close({id: project.id, name: project.name});
      else if (allowNew) close({name: text});
      else { error.textContent = `No project named "${text}".`; error.hidden = false; }
    }}, intro || null, h('div', {class: 'field'}, h('label', {for: id}, 'Project'), input, datalist), error,
    actions(close, confirmLabel));
  });
}

/**
 * Add and remove tags. `current` is the tags every selected item has (shown as removable); `known` offers
 * completions (organization.get_tags). Resolves to {add, remove} or null.
 */
export function editTags({title = 'Tags', current = [], known = null} = {}) {
  return openDialog(title, (close) => {
    const id = nextId('tag');
    const listId = nextId('tag-list');
    const add = new Set();
    const remove = new Set();
    const chips = h('ul', {class: 'tag-chips', 'aria-label': 'Tags'});
    const input = h('input', {id, type: 'text', autocomplete: 'off', list: listId, placeholder: 'New tag'});
    const datalist = h('datalist', {id: listId});
    const shown = () => [...current.filter((t) => !remove.has(t)), ...[...add].filter((t) => !current.includes(t))];
    const draw = () => chips.replaceChildren(...shown().map((tag) => h('li', {class: 'tag'}, tag,
      h('button', {type: 'button', class: 'chip-remove', 'aria-label': `Remove tag ${tag}`, onclick: () => {
        if (add.has(tag)) add.delete(tag); else remove.add(tag);
        draw();
      }}, '×'))));
    const addTyped = () => {
      const tag = input.value.trim();
      if (!tag) return false;
      remove.delete(tag);
      if (!current.includes(tag)) add.add(tag);
      input.value = '';
      draw();
      return true;
    };
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') { event.preventDefault(); addTyped(); }
    });
    (known ? Promise.resolve(known) : api('organization.get_tags', {}).then((d) => d.tags || []))
      .then((tags) => datalist.replaceChildren(...tags.map((t) => h('option', {value: t})))).catch(() => {});
    draw();
    return h('form', {onsubmit: (event) => {
      event.preventDefault();
      addTyped();
      close({add: [...add], remove: [...remove]});
    }}, chips,
    h('div', {class: 'field field-inline'}, h('label', {for: id}, 'Add tag'), input, datalist,
      h('button', {type: 'button', onclick: addTyped}, 'Add')),
    actions(close, 'Apply'));
  });
}
