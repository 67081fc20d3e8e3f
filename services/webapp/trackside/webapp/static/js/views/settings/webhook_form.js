// The create / edit dialog of a webhook: name, URL, event types (webhooks.get_event_types) as checkboxes,
// project filter (searched by path), task status filter, payload template, enabled. The API's refusals are
// shown next to the field they name (ApiError.data.fields, or the field named in the message).
//
//   webhookDialog({webhook, eventTypes, projectNames, submit}) -> Promise<values|null>
//     webhook: the one being edited (null: a new one); submit(values) -> Promise (its ApiError keeps it open)
import {api} from '../../api.js';
import {debounce, h} from '../../dom.js';
import {openDialog} from '../../components/dialogs.js';

export const TASK_STATUSES = ['created', 'queued', 'in_progress', 'stopped', 'completed', 'failed', 'published',
  'publishing', 'closed'];
const FIELDS = ['name', 'url', 'event_types', 'projects', 'statuses', 'payload_template', 'enabled'];
const STATUS_EVENT = 'task.status_changed';

/** Client-side checks; {field: message} (empty when fine). */
export function webhookProblems(values) {
  const problems = {};
  if (!values.name.trim()) problems.name = 'Enter a name.';
  const url = values.url.trim();
  if (!url) problems.url = 'Enter the URL deliveries are sent to.';
  else if (!/^https?:\/\/[^/?#\s]+/i.test(url)) {
    problems.url = 'The URL must start with http:// or https:// and name a host.';
  }
  if (!values.event_types.length) problems.event_types = 'Choose at least one event type.';
  if (values.payload_template.trim()) {
    try { JSON.parse(values.payload_template); } catch (err) {
      problems.payload_template = `The template is not valid JSON: ${err.message}`;
    }
  }
  return problems;
}

/** The problem alone, without the API's "Validation error (field: ...)" wrapping. */
export function refusalText(error, field) {
  const match = String(error?.message || '').match(/^Validation error \((\w+): ([\s\S]*)\)$/);
  return match && match[1] === field ? match[2] : String(error?.message || '');
}

/** Which field an API refusal is about: error_data.fields / field, else a field named in the message. */
export function refusedField(error) {
  const data = error?.data || {};
  const named = [...(Array.isArray(data.fields) ? data.fields : []), data.field, ...Object.keys(data)]
    .filter((f) => typeof f === 'string').map((f) => f.split('.')[0]);
  const hit = named.find((f) => FIELDS.includes(f));
  if (hit) return hit;
  // Our messages start with the field ("url host ... resolves to ..."); else the first field named anywhere.
  const message = String(error?.message || '');
  return FIELDS.find((f) => new RegExp(`^${f}\\b`).test(message))
    || FIELDS.find((f) => new RegExp(`(^|[^\\w.'"])${f}([^\\w.'"]|$)`).test(message)) || null;
}

export function webhookDialog({webhook = null, eventTypes, projectNames = {}, submit}) {
  const title = webhook ? `Edit webhook "${webhook.name}"` : 'New webhook';
  return openDialog(title, (close) => {
    const errors = {};
    // target: the control the label names and the error describes (a fieldset is named by its legend).
    const fieldBox = (name, label, control, help, target = control) => {
      const id = `webhook-${name}`;
      errors[name] = h('p', {class: 'field-error', id: `${id}-error`, role: 'alert', hidden: true});
      target.id = id;
      target.setAttribute('aria-describedby', `${id}-error${help ? ` ${id}-help` : ''}`);
      return h('div', {class: 'field', dataset: {field: name}},
        label ? h('label', {for: id}, label) : null, control,
        help ? h('p', {class: 'muted small field-help', id: `${id}-help`}, help) : null, errors[name]);
    };
    const name = h('input', {name: 'name', type: 'text', autocomplete: 'off', value: webhook?.name || '',
      placeholder: 'e.g. Slack on failures'});
    const url = h('input', {name: 'url', type: 'url', autocomplete: 'off', value: webhook?.url || '',
      placeholder: 'https://example.com/hooks/trackside'});
    const chosenTypes = new Set(webhook?.event_types || []);
    const typeBoxes = eventTypes.map((t) => h('label', {class: 'check option'},
      h('input', {type: 'checkbox', name: 'event_types', value: t.type, checked: chosenTypes.has(t.type)}),
      h('span', {}, h('code', {}, t.type), t.description ? h('span', {class: 'muted'}, ` ${t.description}`) : null)));
    const types = h('fieldset', {class: 'check-list'},
      h('legend', {}, 'Event types'), typeBoxes);
    const chosenStatuses = new Set(webhook?.statuses || []);
    const statuses = h('fieldset', {class: 'check-row'},
      h('legend', {}, 'Task statuses'),
      TASK_STATUSES.map((s) => h('label', {class: 'check'}, h('input', {type: 'checkbox', name: 'statuses', value: s,
        checked: chosenStatuses.has(s)}), s)));
    const projects = projectPicker(webhook?.projects || [], projectNames,
      (text) => showErrors(text ? {projects: text} : {}));
    const template = h('textarea', {name: 'payload_template', rows: 4, class: 'code-input',
      placeholder: '{"text": "Task ${data.name} is now ${data.status}"}'}, webhook?.payload_template || '');
    const enabled = h('input', {type: 'checkbox', name: 'enabled', id: 'webhook-enabled',
      checked: webhook ? webhook.enabled : true});
    const formError = h('p', {class: 'form-error', role: 'alert', hidden: true});
    const save = h('button', {type: 'submit', class: 'primary'}, webhook ? 'Save' : 'Create webhook');

    const values = () => ({
      name: name.value, url: url.value,
      event_types: typeBoxes.map((l) => l.querySelector('input')).filter((c) => c.checked).map((c) => c.value),
      projects: projects.ids(),
      statuses: [...statuses.querySelectorAll('input:checked')].map((c) => c.value),
      payload_template: template.value,
      enabled: enabled.checked,
    });
    const showErrors = (problems, general = null) => {
      for (const [field, box] of Object.entries(errors)) {
        box.textContent = problems[field] || '';
        box.hidden = !problems[field];
        const control = box.closest('.field').querySelector('input, textarea, fieldset');
        if (problems[field]) control?.setAttribute('aria-invalid', 'true');
        else control?.removeAttribute('aria-invalid');
      }
      formError.textContent = general || '';
      formError.hidden = !general;
      const first = Object.keys(problems)[0];
      if (first) errors[first].closest('.field').querySelector('input, textarea')?.focus();
    };
    const syncStatuses = () => {
      const on = values().event_types.includes(STATUS_EVENT);
      statuses.disabled = !on;
      statuses.closest('.field').classList.toggle('inactive', !on);
    };
    types.addEventListener('change', syncStatuses);

    const form = h('form', {class: 'webhook-form', novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      const current = values();
      const problems = webhookProblems(current);
      if (Object.keys(problems).length) { showErrors(problems); return; }
      save.disabled = true;
      try {
        await submit(current);
      } catch (err) {
        save.disabled = false;
        const field = refusedField(err);
        if (field && errors[field]) showErrors({[field]: refusalText(err, field)});
        else showErrors({}, err.message);
        return;
      }
      close(current);
    }},
    // One column on narrow screens in this order; beside each other on wide ones (app.css places them).
    h('div', {class: 'webhook-form-grid'},
      fieldBox('name', 'Name', name),
      fieldBox('url', 'URL', url, 'Deliveries are signed POSTs (Standard Webhooks: webhook-id, webhook-timestamp, '
        + 'webhook-signature). Private and loopback addresses are refused unless the server allows them.'),
      fieldBox('event_types', null, types),
      fieldBox('projects', 'Projects', projects.node, 'Only events of these projects. None: every project.',
        projects.input),
      fieldBox('statuses', null, statuses, 'For task.status_changed: only these new statuses. None: any status.'),
      fieldBox('payload_template', 'Payload template', template, 'The request body: JSON whose strings may hold '
        + '${type}, ${timestamp}, ${data}, ${data.name}, ${data.status}, ${data.previous_status}… '
        + 'Empty: {"type", "timestamp", "data"} of the event.'),
      h('div', {class: 'field field-inline'}, enabled, h('label', {for: 'webhook-enabled'}, 'Enabled'))),
    formError,
    h('div', {class: 'actions'}, h('button', {type: 'button', onclick: () => close(null)}, 'Cancel'), save));
    syncStatuses();
    return form;
  }, {className: 'webhook-dialog'});
}

/** Projects chosen by searching their path (projects.get_all_ex), shown as removable chips. */
function projectPicker(initial, names, showProblem) {
  const chosen = new Map(initial.map((id) => [id, names[id] || id]));
  const listId = `webhook-project-list-${Math.random().toString(36).slice(2, 8)}`;
  const input = h('input', {type: 'text', autocomplete: 'off', list: listId, placeholder: 'Search a project path'});
  const datalist = h('datalist', {id: listId});
  const chips = h('ul', {class: 'tag-chips', 'aria-label': 'Chosen projects'});
  let found = [];
  const draw = () => chips.replaceChildren(...[...chosen].map(([id, label]) => h('li', {class: 'tag'}, label,
    h('button', {type: 'button', class: 'chip-remove', 'aria-label': `Remove project ${label}`,
      onclick: () => { chosen.delete(id); draw(); }}, '×'))));
  const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const search = debounce(async () => {
    const text = escape(input.value.trim());
    try {
      const data = await api('projects.get_all_ex', {...(text && {name: text}), only_fields: ['id', 'name'],
        order_by: ['name'], size: 50, search_hidden: false});
      found = data.projects || [];
      datalist.replaceChildren(...found.map((p) => h('option', {value: p.name})));
    } catch {
      found = [];
    }
  }, 200);
  // The path typed or picked; asked for exactly when the suggestions have not caught up with the typing.
  const add = async () => {
    const path = input.value.trim().replace(/^\/+|\/+$/g, '');
    if (!path) return;
    let project = found.find((p) => p.name === path);
    if (!project) {
      try {
        project = (await api('projects.get_all_ex', {name: `^${escape(path)}$`, only_fields: ['id', 'name'],
          search_hidden: false})).projects?.[0];
      } catch (err) {
        showProblem(err.message);
        return;
      }
    }
    if (!project) { showProblem(`No project named "${path}".`); return; }
    showProblem(null);
    chosen.set(project.id, project.name);
    input.value = '';
    draw();
  };
  input.addEventListener('input', search);
  input.addEventListener('keydown', (event) => { if (event.key === 'Enter') { event.preventDefault(); add(); } });
  search();
  draw();
  const node = h('div', {class: 'project-picker'}, chips, h('div', {class: 'name-row'}, input, datalist,
    h('button', {type: 'button', onclick: add}, 'Add project')));
  return {node, input, ids: () => [...chosen.keys()]};
}
