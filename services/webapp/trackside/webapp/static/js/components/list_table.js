// A small table over a complete list held in the browser (workers, queues): client-side sort by a header
// button (aria-sort), one selected row that outlives refreshes (aria-selected; click or Enter/Space on the
// row), and rows redrawn in place on refresh only when what they show changed, so a live page keeps focus,
// hover and an open menu steady. The paged API listings (tasks, models) use data_table.js instead.
//
//   const table = createListTable({
//     label: 'Workers',                             // accessible name of the <table>
//     columns: [{id, label, render(row) -> Node|string, sortValue(row) -> string|number|null}],
//     rowKey: (row) => row.id, rowLabel: (row) => row.name,
//     sort: {column: 'name', order: 1}, selected: 'id' | null,
//     onSelect: (row | null) => {},                 // the user picked a row (or the picked row vanished)
//     decorateRow: (tr, row) => {},                 // e.g. a contextmenu listener
//     emptyText: 'No workers',
//   });
//   table.setRows(rows); table.select(key); table.selected(); table.element
import {h, replace} from '../dom.js';

export function createListTable(options) {
  const opts = {rowKey: (row) => row.id, rowLabel: (row) => row.name || row.id, emptyText: 'Nothing to show',
    ...options};
  let sort = opts.sort || null;
  let rows = [];
  let selectedKey = opts.selected || null;
  const signatures = new Map(); // row key -> JSON of the row as last drawn

  const thead = h('thead');
  const tbody = h('tbody');
  const element = h('div', {class: 'table-wrap list-table'},
    h('table', {class: 'data-table', 'aria-label': opts.label}, thead, tbody));

  function drawHeader() {
    replace(thead, h('tr', {}, opts.columns.map((column) => {
      const sorted = sort?.column === column.id;
      const ariaSort = sorted ? (sort.order === 1 ? 'ascending' : 'descending') : null;
      const label = column.sortValue
        ? h('button', {type: 'button', class: 'sort-button', onclick: () => {
          sort = {column: column.id, order: sorted ? -sort.order : 1};
          drawHeader();
          draw(true);
        }}, column.label, sorted ? h('span', {class: 'sort-mark', 'aria-hidden': 'true'},
          sort.order === 1 ? ' ▲' : ' ▼') : null)
        : column.label;
      return h('th', {scope: 'col', 'aria-sort': ariaSort, dataset: {col: column.id},
        style: column.width ? {width: column.width} : null}, label);
    })));
  }

  function sorted() {
    const column = opts.columns.find((c) => c.id === sort?.column);
    if (!column?.sortValue) return rows;
    const value = (row) => {
      const v = column.sortValue(row);
      return typeof v === 'string' ? v.toLowerCase() : v;
    };
    return [...rows].sort((a, b) => {
      const x = value(a);
      const y = value(b);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1; // empty values last, either order
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * sort.order;
    });
  }

  function rowElement(row) {
    const key = opts.rowKey(row);
    const tr = h('tr', {tabindex: '0', class: 'clickable', dataset: {key},
      'aria-selected': key === selectedKey ? 'true' : 'false',
      onclick: (event) => {
        if (event.target.closest('a, button, input, select, label')) return;
        if (window.getSelection()?.toString()) return; // selecting text, not picking a row
        pick(row);
      },
      onkeydown: (event) => {
        if (event.target !== tr) return;
        if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); pick(row); }
        if (event.key === 'ArrowDown') { event.preventDefault(); tr.nextElementSibling?.focus(); }
        if (event.key === 'ArrowUp') { event.preventDefault(); tr.previousElementSibling?.focus(); }
      }},
    opts.columns.map((column) => h('td', {dataset: {col: column.id}}, column.render ? column.render(row)
      : String(row[column.id] ?? ''))));
    opts.decorateRow?.(tr, row);
    return tr;
  }

  /** Draw the rows: all of them (sort changed), or only those whose data changed, keeping the others. */
  function draw(full = false) {
    const list = sorted();
    if (!list.length) {
      signatures.clear();
      replace(tbody, h('tr', {}, h('td', {colspan: opts.columns.length, class: 'empty muted'}, opts.emptyText)));
      return;
    }
    const existing = new Map([...tbody.querySelectorAll('tr[data-key]')].map((tr) => [tr.dataset.key, tr]));
    const wanted = list.map((row) => {
      const key = opts.rowKey(row);
      const signature = JSON.stringify(row);
      const old = existing.get(key);
      if (!full && old && signatures.get(key) === signature) return old;
      signatures.set(key, signature);
      const fresh = rowElement(row);
      // Focus stays on the row a keyboard user was on when it is redrawn.
      if (old && old.contains(document.activeElement)) queueMicrotask(() => fresh.focus());
      return fresh;
    });
    const current = [...tbody.children];
    if (current.length !== wanted.length || current.some((tr, i) => tr !== wanted[i])) tbody.replaceChildren(...wanted);
    for (const key of signatures.keys()) if (!list.some((row) => opts.rowKey(row) === key)) signatures.delete(key);
    markSelection();
  }

  function markSelection() {
    for (const tr of tbody.querySelectorAll('tr[data-key]')) {
      tr.setAttribute('aria-selected', tr.dataset.key === selectedKey ? 'true' : 'false');
    }
  }

  function pick(row) {
    const key = row ? opts.rowKey(row) : null;
    selectedKey = key;
    markSelection();
    opts.onSelect?.(row);
  }

  drawHeader();
  draw(true);
  return {
    element,
    setRows(next) {
      rows = next || [];
      draw(false);
      // The selected row is gone (deleted, worker stopped): say so once.
      if (selectedKey && !rows.some((row) => opts.rowKey(row) === selectedKey)) {
        selectedKey = null;
        opts.onSelect?.(null);
      }
    },
    select(key) { selectedKey = key; markSelection(); },
    selected: () => rows.find((row) => opts.rowKey(row) === selectedKey) || null,
    rows: () => rows,
    rowElement: (key) => tbody.querySelector(`tr[data-key="${CSS.escape(key)}"]`),
  };
}
