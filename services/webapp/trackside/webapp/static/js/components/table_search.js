// The search box and "Show archived" switch above a listing (tasks, models): both change the table's
// context, keep it in the URL (q, archive) and reload the table.
import {setQuery} from '../router.js';
import {debounce, h} from '../dom.js';

/** [search field, archived switch] for a table whose load reads ctx.search and ctx.archived. */
export function tableSearch(ctx, table, {id, label}) {
  const input = h('input', {type: 'search', id: `${id}-search`, value: ctx.search,
    placeholder: 'Search by name, id, description…'});
  input.addEventListener('input', debounce(() => {
    ctx.search = input.value.trim();
    setQuery({q: ctx.search || null});
    table.reload();
  }, 300));
  const archived = h('input', {type: 'checkbox', id: `${id}-archived`, checked: ctx.archived,
    onchange: (event) => {
      ctx.archived = event.target.checked;
      setQuery({archive: ctx.archived ? 'true' : null});
      table.clearSelection();
      table.reload();
    }});
  return [
    h('div', {class: 'search-field'}, h('label', {for: `${id}-search`, class: 'visually-hidden'}, label), input),
    h('div', {class: 'check'}, archived, h('label', {for: `${id}-archived`}, 'Show archived')),
  ];
}
