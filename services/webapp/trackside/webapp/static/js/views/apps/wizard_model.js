// The launch wizard's rules without the DOM (unit-tested in Node): reading a typed value, comparing values the
// way the API's launch check does (trackside.shared.apps.values), conditionals, defaults that follow another
// field, and list items' titles. The API checks everything again; these keep the form honest while typing.

const INTEGER = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Empty means "not given" (the API then uses the default). */
export const given = (value) => value !== undefined && value !== null && value !== '';

/**
 * A basic field's text (or boolean, for a checkbox) as its typed value: {value} or {problem}; an empty text
 * is {value: undefined}.
 */
export function parseValue(type, raw) {
  if (type === 'checkbox') return {value: raw === true};
  if (raw === undefined || raw === null) return {value: undefined};
  if (type === 'string' || type === 'multiline_text') return {value: raw === '' ? undefined : String(raw)};
  const text = String(raw).trim();
  if (!text) return {value: undefined};
  if (type === 'integer') {
    return INTEGER.test(text) ? {value: Number.parseInt(text, 10)} : {problem: 'Enter a whole number, e.g. 3.'};
  }
  if (type === 'float') {
    return FLOAT.test(text) ? {value: Number.parseFloat(text)} : {problem: 'Enter a number, e.g. 0.5.'};
  }
  return {value: raw};
}

/** As the API's same_value: true matches "true", 2 matches "2.0", text is compared trimmed. */
export function sameValue(a, b) {
  return norm(a) === norm(b);
}

function norm(value) {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return `n:${value}`;
  if (typeof value === 'string') {
    const text = value.trim();
    const lower = text.toLowerCase();
    if (lower === 'true' || lower === 'false') return lower;
    if (text && FLOAT.test(text)) return `n:${Number.parseFloat(text)}`;
    return `s:${text}`;
  }
  return value === undefined || value === null ? 'null' : `j:${JSON.stringify(value)}`;
}

/** Whether every `conditional` entry holds; `lookup(name)` gives an earlier field's current value. */
export function conditionsHold(entry, lookup) {
  return (entry.conditional || []).every((c) => sameValue(lookup(c.name), c.value));
}

/** The default now: `default_conditional_on` maps the other field's value to one, else `default`. */
export function currentDefault(entry, lookup) {
  const spec = entry.default_conditional_on;
  if (spec && spec.value && typeof spec.value === 'object') {
    const other = lookup(spec.name);
    if (given(other)) {
      for (const [key, value] of Object.entries(spec.value)) {
        if (sameValue(key, other)) return value;
      }
    }
  }
  return entry.default;
}

/** A value as the control shows it ("" for none). */
export function displayText(value) {
  if (!given(value)) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** collapsibleTitleTemplate "From iteration ${at_iteration}" with the item's values; a blank one shows "…". */
export function fillTitle(template, values) {
  return String(template).replace(/\$\{([^}]*)\}/g, (_, name) => {
    const value = values[name.trim()];
    return given(value) ? displayText(value) : '…';
  });
}

/** Dropdown options as [{label, value}] (the API normalises them; a plain list of values is accepted too). */
export function options(choices) {
  if (!Array.isArray(choices)) return [];
  return choices.map((c) => (c && typeof c === 'object'
    ? {value: c.value, label: c.label ?? c.name ?? c.display ?? displayText(c.value)}
    : {value: c, label: displayText(c)}));
}
