// The launch wizard's fields: one object per wizard entry (and per list item's fields), each owning its DOM
// and answering the form's questions:
//   update(lookup)   conditionals and following defaults, from the earlier fields' values (top to bottom)
//   value()          the typed value other fields' conditions see (the default when left empty; undefined hidden)
//   params()         what goes into launch_params (undefined: leave it out)
//   problems()       [{field, message}] of the visible fields
//   render(all)      show the problems of touched fields (all: every field, after a launch attempt)
//   fieldAt(path)    the field a server error's path ("data.noise", "lr_schedule[1].factor") names
import {h} from '../../dom.js';
import {conditionsHold, currentDefault, displayText, fillTitle, given, options, parseValue} from './wizard_model.js';

let serial = 0;
const nextId = (name) => `wizard-${String(name).replace(/[^\w-]/g, '_')}-${++serial}`;

/** The names a field's conditions may see: the fields of its own level, then the levels around it. */
export class Scope {
  constructor(parent = null) {
    this.parent = parent;
    this.fields = new Map();
    this.lookup = (name) => {
      const field = this.fields.get(name);
      if (field) return field.value();
      return this.parent ? this.parent.lookup(name) : undefined;
    };
  }

  add(field) {
    this.fields.set(field.entry.name, field);
    return field;
  }
}

/** ctx: {scope, path: () => string, initial (a value from a group's or list's default), changed: () => void} */
export function buildField(entry, ctx) {
  if (entry.type === 'group') return groupField(entry, ctx);
  if (entry.type === 'list') return listField(entry, ctx);
  return basicField(entry, ctx);
}

const requiredMark = (entry) => (entry.required
  ? h('span', {class: 'required-mark', 'aria-hidden': 'true', title: 'Required'}, '*') : null);

/** The label names the field by its title alone; the required mark sits beside it (aria-required says it). */
function label(entry, forId) {
  return h('span', {class: 'field-label'}, h('label', {for: forId}, entry.title || entry.name), requiredMark(entry));
}

/** A button that shows and hides `body` (aria-expanded); the arrow is decoration, not part of its name. */
function toggleButton(content, body) {
  return h('button', {type: 'button', class: 'section-toggle', 'aria-expanded': 'true', 'aria-controls': body.id,
    onclick: (event) => {
      const open = event.currentTarget.getAttribute('aria-expanded') !== 'true';
      event.currentTarget.setAttribute('aria-expanded', String(open));
      body.hidden = !open;
    }}, h('span', {class: 'toggle-mark', 'aria-hidden': 'true'}), content);
}

function hint(entry, id) {
  return entry.info ? h('p', {class: 'muted small field-help', id}, entry.info) : null;
}

function basicField(entry, ctx) {
  const id = nextId(entry.name);
  const type = entry.type;
  const choices = options(entry.choices);
  const describedBy = [entry.info ? `${id}-help` : null, `${id}-error`].filter(Boolean).join(' ');
  const error = h('p', {class: 'field-error', id: `${id}-error`, hidden: true});
  let control;
  let suggestions = null;
  if (type === 'checkbox') {
    control = h('input', {type: 'checkbox', id});
  } else if (type === 'dropdown') {
    control = h('select', {id});
  } else if (type === 'multiline_text') {
    control = h('textarea', {id, rows: 3, placeholder: entry.placeholder});
  } else {
    control = h('input', {type: 'text', id, autocomplete: 'off', placeholder: entry.placeholder,
      inputmode: type === 'integer' ? 'numeric' : type === 'float' ? 'decimal' : null});
    if (type === 'string' && choices.length) {  // a string's choices are suggestions
      suggestions = h('datalist', {id: `${id}-list`}, choices.map((o) => h('option', {value: displayText(o.value)},
        o.label)));
      control.setAttribute('list', `${id}-list`);
    }
  }
  control.setAttribute('aria-describedby', describedBy);
  if (entry.required) control.setAttribute('aria-required', 'true');
  const row = h('div', {class: `field wizard-field${type === 'checkbox' ? ' field-inline wizard-check' : ''}`,
    dataset: {field: entry.name}},
  type === 'checkbox' ? [control, label(entry, id)] : [label(entry, id), control], suggestions,
  hint(entry, `${id}-help`), error);

  let edited = given(ctx.initial);
  let touched = false;
  let visible = true;
  let fallback = entry.default; // what the API uses when this is left empty
  let serverError = null;

  const read = () => (type === 'checkbox' ? control.checked
    : type === 'dropdown' ? (control.value === '' ? undefined : choices[Number(control.value)]?.value)
      : control.value);
  const show = (value) => {
    if (type === 'checkbox') {
      control.checked = value === true || String(value).toLowerCase() === 'true';
    } else if (type === 'dropdown') {
      const index = choices.findIndex((o) => given(value) && displayText(o.value) === displayText(value));
      control.value = index >= 0 ? String(index) : '';
    } else {
      control.value = displayText(value);
    }
  };
  if (type === 'dropdown') {
    const blankLabel = entry.required ? 'Choose…' : '(none)';
    control.append(h('option', {value: ''}, blankLabel), ...choices.map((o, i) => h('option', {value: String(i)},
      o.label ?? displayText(o.value))));
  }
  if (edited) show(ctx.initial);
  const onEdit = () => {
    edited = true;
    touched = true;
    serverError = null;
    ctx.changed();
  };
  control.addEventListener(type === 'checkbox' || type === 'dropdown' ? 'change' : 'input', onEdit);
  control.addEventListener('blur', () => {
    if (!touched) { touched = true; ctx.changed(); }
  });

  const parsed = () => parseValue(type, read());
  const field = {
    entry, node: row, control,
    get visible() { return visible; },
    update(lookup) {
      visible = conditionsHold(entry, lookup);
      row.hidden = !visible;
      fallback = currentDefault(entry, lookup);
      if (!edited) show(fallback);  // the default follows the other field until this one is edited
    },
    value() {
      if (!visible) return undefined;
      const {value} = parsed();
      if (given(value)) return value;
      return given(fallback) ? parseValue(type, type === 'checkbox' ? fallback === true : fallback).value : undefined;
    },
    params() {
      if (!visible) return undefined;
      const {value, problem} = parsed();
      return problem ? read() : value;
    },
    problems() {
      if (!visible) return [];
      const {value, problem} = parsed();
      if (problem) return [{field, message: problem}];
      if (entry.required && !given(value) && !given(fallback)) return [{field, message: 'Required.', required: true}];
      if (ctx.singleItem && !given(value) && !given(fallback)) {  // the API refuses an empty item
        return [{field, message: 'Enter a value or remove the item.', required: true}];
      }
      return [];
    },
    render(all) {
      const problem = field.problems()[0];
      const shown = problem && (touched || all || !problem.required) ? problem.message : serverError;
      error.textContent = shown || '';
      error.hidden = !shown;
      if (shown) control.setAttribute('aria-invalid', 'true');
      else control.removeAttribute('aria-invalid');
    },
    fieldAt(path) { return path === ctx.path() ? field : null; },
    setServerError(message) {
      serverError = message;
      touched = true;
    },
    focus() { control.focus(); },
  };
  return field;
}

/** A collapsible section: a legend button that shows and hides the body (aria-expanded). */
function section(entry, className, content) {
  const id = nextId(entry.name);
  const body = h('div', {class: 'wizard-section-body', id: `${id}-body`}, content);
  const legend = h('legend', {}, entry.collapsible ? toggleButton(entry.title || entry.name, body)
    : entry.title || entry.name, requiredMark(entry));
  const node = h('fieldset', {class: className, dataset: {field: entry.name}}, legend, hint(entry, `${id}-help`),
    body);
  return {node, body};
}

function childFields(template, scope, basePath, initial, ctx) {
  return template.map((child) => scope.add(buildField(child, {
    scope, changed: ctx.changed, path: () => `${basePath()}.${child.name}`,
    initial: initial && typeof initial === 'object' ? initial[child.name] : undefined})));
}

function groupField(entry, ctx) {
  const scope = new Scope(ctx.scope);
  const initial = given(ctx.initial) ? ctx.initial : entry.default;
  const children = childFields(entry.item_template || [], scope, ctx.path, initial, ctx);
  const {node} = section(entry, 'wizard-group', children.map((c) => c.node));
  let visible = true;
  const field = {
    entry, node, children,
    get visible() { return visible; },
    update(lookup) {
      visible = conditionsHold(entry, lookup);
      node.hidden = !visible;
      for (const child of children) child.update(scope.lookup);
    },
    value() {
      return visible ? Object.fromEntries(children.map((c) => [c.entry.name, c.value()])) : undefined;
    },
    params() {
      if (!visible) return undefined;
      const out = {};
      for (const child of children) {
        const value = child.params();
        if (value !== undefined) out[child.entry.name] = value;
      }
      return out;
    },
    problems() { return visible ? children.flatMap((c) => c.problems()) : []; },
    render(all) { for (const child of children) child.render(all); },
    fieldAt(path) {
      if (path === ctx.path()) return field;
      for (const child of children) {
        const hit = child.fieldAt(path);
        if (hit) return hit;
      }
      return null;
    },
    setServerError(message) { children[0]?.setServerError(message); },
    focus() { children[0]?.focus(); },
  };
  return field;
}

function listField(entry, ctx) {
  const template = entry.item_template;
  const title = entry.title || entry.name;
  const items = [];
  const itemsBox = h('div', {class: 'wizard-list-items'});
  const error = h('p', {class: 'field-error', hidden: true});
  const add = h('button', {type: 'button', class: 'add-item', 'aria-label': `Add an item to ${title}`,
    onclick: () => { addItem(undefined).fields[0]?.focus(); ctx.changed(); }}, '+ Add item');
  const {node} = section({...entry, collapsible: false}, 'wizard-list', [itemsBox, error, add]);
  let visible = true;
  let serverError = null;
  let touched = false;

  function addItem(initial) {
    const scope = new Scope(ctx.scope);
    const item = {scope, fields: []};
    const path = () => `${ctx.path()}[${items.indexOf(item)}]`;
    if (Array.isArray(template)) {
      item.fields = childFields(template, scope, path, initial, ctx);
    } else if (template) {  // a list of single values: the item is one field
      item.fields = [scope.add(buildField(template, {scope, changed: ctx.changed, path, initial, singleItem: true}))];
    }
    const bodyId = nextId(`${entry.name}-item`);
    item.title = h('span', {class: 'item-title'});
    item.body = h('div', {class: 'wizard-list-item-body', id: bodyId}, item.fields.map((f) => f.node));
    const head = entry.collapsible ? toggleButton(item.title, item.body) : item.title;
    item.remove = h('button', {type: 'button', class: 'remove-item', onclick: () => {
      items.splice(items.indexOf(item), 1);
      item.node.remove();
      touched = true;
      ctx.changed();
    }}, 'Remove');
    item.node = h('div', {class: 'wizard-list-item', role: 'group'}, h('div', {class: 'wizard-list-item-head'}, head,
      item.remove), item.body);
    items.push(item);
    itemsBox.append(item.node);
    return item;
  }
  const initial = given(ctx.initial) ? ctx.initial : entry.default;
  for (const value of Array.isArray(initial) ? initial : []) addItem(value);

  const itemValue = (item, pick) => (Array.isArray(template)
    ? Object.fromEntries(item.fields.map((f) => [f.entry.name, pick(f)]).filter(([, v]) => v !== undefined))
    : pick(item.fields[0]));
  const field = {
    entry, node,
    get visible() { return visible; },
    update(lookup) {
      visible = conditionsHold(entry, lookup);
      node.hidden = !visible;
      items.forEach((item, i) => {
        for (const f of item.fields) f.update(item.scope.lookup);
        const values = Array.isArray(template) ? itemValue(item, (f) => f.value()) : {};
        const text = entry.collapsibleTitleTemplate ? fillTitle(entry.collapsibleTitleTemplate, values)
          : `${Array.isArray(template) ? 'Item' : template?.title || 'Item'} ${i + 1}`;
        item.title.textContent = text;
        item.node.setAttribute('aria-label', `${title}: ${text}`);
        item.remove.setAttribute('aria-label', `Remove ${title} item ${i + 1}`);
      });
    },
    value() { return visible ? items.map((item) => itemValue(item, (f) => f.value())) : undefined; },
    params() { return visible ? items.map((item) => itemValue(item, (f) => f.params())) : undefined; },
    problems() {
      if (!visible) return [];
      const own = entry.required && !items.length
        ? [{field, message: 'Add at least one item.', required: true}] : [];
      return [...own, ...items.flatMap((item) => item.fields.flatMap((f) => f.problems()))];
    },
    render(all) {
      const own = field.problems().find((p) => p.field === field);
      const shown = own && (touched || all) ? own.message : serverError;
      error.textContent = shown || '';
      error.hidden = !shown;
      for (const item of items) for (const f of item.fields) f.render(all);
    },
    fieldAt(path) {
      if (path === ctx.path()) return field;
      for (const item of items) {
        for (const f of item.fields) {
          const hit = f.fieldAt(path);
          if (hit) return hit;
        }
      }
      return null;
    },
    setServerError(message) { serverError = message; },
    focus() { (items[0]?.fields[0] || {focus: () => add.focus()}).focus(); },
  };
  return field;
}
