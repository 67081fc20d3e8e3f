// The launch wizard: a modal form built from apps.get_launch_template (every field type, conditionals,
// defaults that follow another field, groups, repeatable lists, live validation), an instance name, and
// apps.launch_instance. Refusals that name fields (error_data.fields: {"data.noise": "..."}) are shown under
// those fields and the dialog stays open.
//
//   openLaunchWizard(appId, {onLaunched(id)}) -> Promise<instance id | null>
//     without onLaunched, a launch opens /applications/<appId>/instances/<id>
import {api} from '../../api.js';
import {navigate} from '../../router.js';
import {h, toast} from '../../dom.js';
import {openDialog} from '../../components/dialogs.js';
import {Scope, buildField} from './wizard_fields.js';

export async function openLaunchWizard(appId, {onLaunched} = {}) {
  let template;
  try {
    template = await api('apps.get_launch_template', {app: appId});
  } catch (err) {
    toast(`Cannot launch ${appId}: ${err.message}`, 'error');
    return null;
  }
  const app = {id: appId, name: appId, ...template.app};
  const id = await openDialog(`Launch ${app.name}`, (close) => wizardForm(app, template.entries || [], close),
    {className: 'wizard-dialog'});
  if (!id) return null;
  toast(`Launched ${app.name}`, 'success');
  if (onLaunched) onLaunched(id);
  else navigate(`/applications/${encodeURIComponent(appId)}/instances/${encodeURIComponent(id)}`);
  return id;
}

function wizardForm(app, entries, close) {
  const scope = new Scope();
  let attempted = false;
  let busy = false;
  const changed = () => refresh();
  const fields = entries.map((entry) => scope.add(buildField(entry, {scope, changed, path: () => entry.name})));
  const name = h('input', {type: 'text', id: 'wizard-instance-name', autocomplete: 'off', value: app.name || app.id,
    'aria-describedby': 'wizard-instance-name-help'});
  const summary = h('p', {class: 'wizard-summary muted small', 'aria-live': 'polite'});
  const formError = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const launch = h('button', {type: 'submit', class: 'primary'}, 'Launch');

  function problems() {
    return fields.flatMap((f) => f.problems());
  }

  function refresh() {
    for (const field of fields) field.update(scope.lookup);
    for (const field of fields) field.render(attempted);
    const found = problems();
    const titles = [...new Set(found.map((p) => p.field.entry.title || p.field.entry.name))];
    summary.textContent = found.length ? `To launch, fix: ${titles.join(', ')}` : '';
    launch.disabled = busy || found.length > 0;
  }

  function launchParams() {
    const out = {};
    for (const field of fields) {
      const value = field.params();
      if (value !== undefined) out[field.entry.name] = value;
    }
    return out;
  }

  function showRefusal(err) {
    const named = err?.data?.fields && typeof err.data.fields === 'object' && !Array.isArray(err.data.fields)
      ? err.data.fields : {};
    const unplaced = [];
    let first = null;
    for (const [path, message] of Object.entries(named)) {
      const field = fields.map((f) => f.fieldAt(path)).find(Boolean);
      if (field) {
        field.setServerError(`${field.entry.title || field.entry.name} ${message}`);
        first ??= field;
      } else {
        unplaced.push(`${path}: ${message}`);
      }
    }
    formError.textContent = unplaced.length ? unplaced.join('; ')
      : first ? 'The server refused some values: see the marked fields.' : err.message;
    formError.hidden = false;
    refresh();
    first?.focus();
    first?.node.scrollIntoView({block: 'nearest'});  // the message under the field too, not just its input
  }

  const form = h('form', {class: 'wizard-form', novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    attempted = true;
    refresh();
    const found = problems();
    if (found.length) { found[0].field.focus(); return; }
    busy = true;
    launch.disabled = true;
    formError.hidden = true;
    try {
      const body = {app: app.id, launch_params: launchParams()};
      if (name.value.trim()) body.task_name = name.value.trim();
      const answer = await api('apps.launch_instance', body);
      close(answer.id);
    } catch (err) {
      busy = false;
      showRefusal(err);
    }
  }},
  h('div', {class: 'wizard-body'},
    h('p', {class: 'muted small wizard-app-line'}, [app.provider, app.version && `version ${app.version}`]
      .filter(Boolean).join(' · ')),
    h('div', {class: 'field wizard-field'}, h('label', {for: 'wizard-instance-name'}, 'Instance name'), name,
      h('p', {class: 'muted small field-help', id: 'wizard-instance-name-help'}, 'The name of the instance\'s task')),
    fields.map((f) => f.node)),
  formError,
  h('div', {class: 'actions wizard-actions'}, summary,
    h('button', {type: 'button', onclick: () => close(null)}, 'Cancel'), launch));
  refresh();
  return form;
}
