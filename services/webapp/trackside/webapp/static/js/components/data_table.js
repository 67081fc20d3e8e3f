// A reusable table over a paged API listing (tasks, models): columns, multi-column sort (shift-click adds a
// key), per-column filters, selection with select-all/none, "load more" paging through the caller's scroll id
// with infinite scroll, a column chooser (which columns and their order), sticky header, <table> semantics.
//
// The table owns only display state; the caller turns it into API requests:
//
//   const table = createDataTable({
//     label: 'Tasks',                          // accessible name of the <table>
//     columns: [{id, label, render(row) -> Node|string, text(row) -> string (CSV, title),
//                sortField: 'name' | null,     // what order_by sorts on; null: not sortable
//                filter: {type: 'set', options: [{value, label}] | async () => [...]}
//                      | {type: 'tags', options: async () => [tag...]}   value {mode: 'any'|'all', include, exclude}
//                      | {type: 'number'} | {type: 'date'}              value [min|null, max|null]
//                      | {type: 'text'}                                 value 'text'
//                removable: true (false keeps it out of the chooser's hide box), width: '120px'}],
//     visible: ['name', ...],                  // ids, in display order
//     sort: [{field, order: 1|-1}], filters: {colId: value},
//     load: async ({scrollId, size, sort, filters, visible}) -> {rows, scrollId},
//     rowId: (row) => row.id, rowLabel: (row) => row.name, rowHref: (row) => url | null,
//     pageSize: 30,
//     bulkBar: (selectedRows, table) -> Node | null,   // drawn above the table while something is selected
//     chooserExtras: (table, close) -> Node,          // extra content in the column chooser (metric columns...)
//     onStateChange: ({visible, sort, filters}) => {}, // persist (URL, preferences)
//     onRowContextMenu: (row, event, table) => {},     // right-click (or the keyboard's menu key) on a row;
//                                                        // links keep the browser's menu
//   });
//   root.append(table.element); table.reload();
//
// Methods: reload(), setColumns(columns, visible?), setVisible(ids), selectedRows(), clearSelection(),
// loadedRows(), state (read-only view of {visible, sort, filters}), destroy().
import {debounce, h, replace} from '../dom.js';

let serial = 0;
const uid = (prefix) => `${prefix}-${++serial}`;

export function isFilterActive(value) {
  if (value === null || value === undefined || value === '') return false;
  if (Array.isArray(value)) return value.some((v) => v !== null && v !== '' && v !== undefined);
  if (typeof value === 'object') return (value.include?.length || 0) + (value.exclude?.length || 0) > 0;
  return true;
}

export function createDataTable(options) {
  const opts = {pageSize: 30, rowId: (row) => row.id, rowLabel: (row) => row.name || row.id, ...options};
  let columns = opts.columns;
  const state = {
    visible: (opts.visible || columns.map((c) => c.id)).filter((id) => columns.some((c) => c.id === id)),
    sort: opts.sort || [],
    filters: {...(opts.filters || {})},
  };
  let rows = [];
  let scrollId = null;
  let exhausted = false;
  let loading = null;
  let generation = 0;
  const selected = new Map(); // id -> row
  let openPopover = null;

  const tableId = uid('table');
  const status = h('p', {class: 'table-status muted', role: 'status', 'aria-live': 'polite'});
  const bulk = h('div', {class: 'bulk-bar', hidden: true, role: 'region', 'aria-label': 'Selection actions'});
  const thead = h('thead');
  const tbody = h('tbody');
  const table = h('table', {class: 'data-table', id: tableId, 'aria-label': opts.label, 'aria-rowcount': -1},
    thead, tbody);
  const moreButton = h('button', {type: 'button', class: 'load-more', onclick: () => loadMore()}, 'Load more');
  const footer = h('div', {class: 'table-footer'}, moreButton);
  const wrap = h('div', {class: 'table-wrap table-scroll'}, table, footer);
  const element = h('div', {class: 'data-table-box'}, bulk, wrap, status);

  // Infinite scroll: the footer coming into view loads the next page.
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && !exhausted && !loading && rows.length) loadMore();
  }, {root: wrap, rootMargin: '200px'});
  observer.observe(footer);

  const columnById = (id) => columns.find((c) => c.id === id);
  const visibleColumns = () => state.visible.map(columnById).filter(Boolean);

  function changed() {
    opts.onStateChange?.({visible: [...state.visible], sort: state.sort.map((s) => ({...s})),
      filters: {...state.filters}});
  }

  // ---- header -------------------------------------------------------------------------------------------
  function sortIndex(column) {
    return column.sortField ? state.sort.findIndex((s) => s.field === column.sortField) : -1;
  }

  function onSortClick(column, event) {
    const at = sortIndex(column);
    if (event.shiftKey) {
      if (at < 0) state.sort = [...state.sort, {field: column.sortField, order: 1}];
      else if (state.sort[at].order === 1) state.sort[at] = {field: column.sortField, order: -1};
      else state.sort = state.sort.filter((_, i) => i !== at);
    } else {
      const order = at === 0 && state.sort.length === 1 && state.sort[0].order === 1 ? -1 : 1;
      state.sort = [{field: column.sortField, order}];
    }
    changed();
    drawHeader();
    reload();
  }

  function drawHeader() {
    const all = h('input', {type: 'checkbox', 'aria-label': 'Select all loaded rows', onchange: (event) => {
      if (event.target.checked) for (const row of rows) selected.set(opts.rowId(row), row);
      else selected.clear();
      drawSelection();
    }});
    const cells = [h('th', {class: 'select-col', scope: 'col'}, all)];
    for (const column of visibleColumns()) {
      const at = sortIndex(column);
      const sortState = at >= 0 ? state.sort[at] : null;
      const ariaSort = at === 0 ? (sortState.order === 1 ? 'ascending' : 'descending') : null;
      const label = column.sortField
        ? h('button', {type: 'button', class: 'sort-button', title: 'Sort (shift-click to add a sort key)',
          onclick: (event) => onSortClick(column, event)}, column.label,
        sortState ? h('span', {class: 'sort-mark', 'aria-hidden': 'true'},
          (sortState.order === 1 ? ' ▲' : ' ▼') + (state.sort.length > 1 ? at + 1 : '')) : null)
        : h('span', {}, column.label);
      const filterButton = column.filter ? h('button', {type: 'button',
        class: `filter-button${isFilterActive(state.filters[column.id]) ? ' active' : ''}`,
        'aria-label': `Filter ${column.label}`, 'aria-haspopup': 'dialog',
        'aria-pressed': isFilterActive(state.filters[column.id]) ? 'true' : 'false',
        onclick: (event) => openFilter(column, event.currentTarget)}, '▾') : null;
      cells.push(h('th', {scope: 'col', 'aria-sort': ariaSort, style: column.width ? {width: column.width} : null,
        dataset: {col: column.id}}, h('div', {class: 'th-inner'}, label, filterButton)));
    }
    replace(thead, h('tr', {}, cells));
    drawSelection();
  }

  // ---- filters ------------------------------------------------------------------------------------------
  function closePopover() {
    if (!openPopover) return;
    openPopover.remove();
    document.removeEventListener('mousedown', onOutside, true);
    document.removeEventListener('keydown', onEscape, true);
    openPopover = null;
  }
  function onOutside(event) {
    if (openPopover && !openPopover.contains(event.target) && !event.target.closest?.('.filter-button')) closePopover();
  }
  function onEscape(event) {
    if (event.key === 'Escape') { closePopover(); }
  }

  function setFilter(column, value) {
    if (isFilterActive(value)) state.filters[column.id] = value;
    else delete state.filters[column.id];
    changed();
    drawHeader();
    reload();
  }

  async function openFilter(column, anchor) {
    const wasOpen = openPopover?.dataset.col === column.id;
    closePopover();
    if (wasOpen) return;
    const box = h('div', {class: 'filter-popover', role: 'dialog', 'aria-label': `Filter ${column.label}`,
      dataset: {col: column.id}});
    const rect = anchor.getBoundingClientRect();
    const left = Math.max(8, Math.min(rect.left, innerWidth - 300));
    Object.assign(box.style, {top: `${rect.bottom + 4}px`, left: `${left}px`});
    document.body.append(box);
    openPopover = box;
    document.addEventListener('mousedown', onOutside, true);
    document.addEventListener('keydown', onEscape, true);
    box.append(h('p', {class: 'muted'}, 'Loading…'));
    const content = await filterContent(column);
    if (openPopover !== box) return;
    replace(box, content, h('div', {class: 'actions'},
      h('button', {type: 'button', onclick: () => { closePopover(); setFilter(column, null); }}, 'Clear'),
      h('button', {type: 'button', onclick: closePopover}, 'Close')));
    box.querySelector('input, select')?.focus();
  }

  async function filterContent(column) {
    const spec = column.filter;
    const value = state.filters[column.id];
    if (spec.type === 'set' || spec.type === 'tags') {
      let choices = [];
      try {
        choices = typeof spec.options === 'function' ? await spec.options() : spec.options || [];
      } catch (err) {
        return h('p', {class: 'form-error', role: 'alert'}, err.message);
      }
      choices = choices.map((c) => (typeof c === 'string' ? {value: c, label: c} : c));
      if (spec.type === 'set') {
        const chosen = new Set(value || []);
        const list = h('div', {class: 'filter-options', role: 'group', 'aria-label': `${column.label} values`},
          choices.map((c) => {
            const id = uid('opt');
            return h('div', {class: 'check'}, h('input', {type: 'checkbox', id, checked: chosen.has(c.value),
              onchange: (event) => {
                if (event.target.checked) chosen.add(c.value); else chosen.delete(c.value);
                setFilter(column, [...chosen]);
              }}), h('label', {for: id}, c.label));
          }));
        return choices.length ? list : h('p', {class: 'muted'}, 'No values');
      }
      // tags: each tag is off / include / exclude; any/all for the included ones.
      const current = {mode: 'any', include: [], exclude: [], ...(value || {})};
      const modeId = uid('mode');
      const apply = () => setFilter(column, {...current});
      const mode = h('select', {id: modeId, onchange: (event) => { current.mode = event.target.value; apply(); }},
        h('option', {value: 'any', selected: current.mode === 'any'}, 'Any of the included tags'),
        h('option', {value: 'all', selected: current.mode === 'all'}, 'All of the included tags'));
      const rowsOf = choices.map((c) => {
        const id = uid('tag');
        const now = current.include.includes(c.value) ? 'include' : current.exclude.includes(c.value) ? 'exclude' : '';
        const select = h('select', {id, onchange: (event) => {
          current.include = current.include.filter((t) => t !== c.value);
          current.exclude = current.exclude.filter((t) => t !== c.value);
          if (event.target.value === 'include') current.include.push(c.value);
          if (event.target.value === 'exclude') current.exclude.push(c.value);
          apply();
        }}, h('option', {value: '', selected: !now}, '—'),
        h('option', {value: 'include', selected: now === 'include'}, 'Include'),
        h('option', {value: 'exclude', selected: now === 'exclude'}, 'Exclude'));
        return h('div', {class: 'tag-filter-row'}, h('label', {for: id}, c.label), select);
      });
      return h('div', {}, h('div', {class: 'field'}, h('label', {for: modeId}, 'Match'), mode),
        rowsOf.length ? h('div', {class: 'filter-options', role: 'group', 'aria-label': 'Tags'}, rowsOf)
          : h('p', {class: 'muted'}, 'No tags'));
    }
    if (spec.type === 'number' || spec.type === 'date') {
      const [low, high] = value || [null, null];
      const type = spec.type === 'date' ? 'datetime-local' : 'number';
      const toInput = (v) => (v && spec.type === 'date' ? toLocalInput(v) : v ?? '');
      const fromInput = (v) => (v === '' ? null : spec.type === 'date' ? new Date(v).toISOString() : Number(v));
      const lowId = uid('low');
      const highId = uid('high');
      const lowInput = h('input', {id: lowId, type, step: 'any', value: toInput(low)});
      const highInput = h('input', {id: highId, type, step: 'any', value: toInput(high)});
      const apply = debounce(() => setFilter(column, [fromInput(lowInput.value), fromInput(highInput.value)]), 400);
      lowInput.addEventListener('input', apply);
      highInput.addEventListener('input', apply);
      return h('div', {class: 'range-filter'},
        h('div', {class: 'field'}, h('label', {for: lowId}, spec.type === 'date' ? 'From' : 'Minimum'), lowInput),
        h('div', {class: 'field'}, h('label', {for: highId}, spec.type === 'date' ? 'To' : 'Maximum'), highInput));
    }
    const id = uid('text');
    const input = h('input', {id, type: 'text', value: value || ''});
    input.addEventListener('input', debounce(() => setFilter(column, input.value.trim()), 400));
    return h('div', {class: 'field'}, h('label', {for: id}, `${column.label} contains`), input);
  }

  // ---- rows ---------------------------------------------------------------------------------------------
  function rowElement(row) {
    const id = opts.rowId(row);
    const isSelected = selected.has(id);
    const box = h('input', {type: 'checkbox', checked: isSelected, 'aria-label': `Select ${opts.rowLabel(row)}`,
      onchange: (event) => {
        if (event.target.checked) selected.set(id, row); else selected.delete(id);
        drawSelection();
      }});
    const cells = [h('td', {class: 'select-col'}, box)];
    for (const column of visibleColumns()) {
      let content;
      try {
        content = column.render ? column.render(row) : (column.text ? column.text(row) : row[column.id]);
      } catch {
        content = '';
      }
      const title = column.text ? column.text(row) : (typeof content === 'string' ? content : null);
      cells.push(h('td', {title: title || null, dataset: {col: column.id}}, content ?? ''));
    }
    const href = opts.rowHref?.(row);
    return h('tr', {'aria-selected': isSelected ? 'true' : 'false', dataset: {id},
      class: href ? 'clickable' : null,
      onclick: (event) => {
        if (!href || event.target.closest('input, button, a, select, label')) return;
        if (window.getSelection()?.toString()) return; // selecting text, not opening
        const link = event.target.closest('tr').querySelector('a[data-row-link]');
        if (link) link.click(); else opts.onRowClick?.(row, event);
      },
      oncontextmenu: opts.onRowContextMenu ? (event) => {
        if (event.target.closest('a, select, textarea, input:not([type=checkbox])')) return;
        opts.onRowContextMenu(row, event, api);
      } : null}, cells);
  }

  function drawRows() {
    replace(tbody, rows.map(rowElement));
    if (!rows.length && !loading) {
      tbody.append(h('tr', {}, h('td', {colspan: visibleColumns().length + 1, class: 'empty muted'},
        opts.emptyText || 'Nothing to show')));
    }
  }

  function drawSelection() {
    const all = thead.querySelector('th.select-col input');
    const loadedSelected = rows.filter((r) => selected.has(opts.rowId(r))).length;
    if (all) {
      all.checked = rows.length > 0 && loadedSelected === rows.length;
      all.indeterminate = loadedSelected > 0 && loadedSelected < rows.length;
    }
    for (const tr of tbody.querySelectorAll('tr[data-id]')) {
      const on = selected.has(tr.dataset.id);
      tr.setAttribute('aria-selected', on ? 'true' : 'false');
      const box = tr.querySelector('td.select-col input');
      if (box) box.checked = on;
    }
    const chosen = [...selected.values()];
    bulk.hidden = chosen.length === 0;
    if (chosen.length) {
      replace(bulk, h('span', {class: 'bulk-count'}, `${chosen.length} selected`),
        h('button', {type: 'button', onclick: () => { selected.clear(); drawSelection(); }}, 'Select none'),
        opts.bulkBar ? opts.bulkBar(chosen, api) : null);
    } else {
      replace(bulk);
    }
    opts.onSelectionChange?.(chosen);
  }

  function drawStatus(text) {
    status.textContent = text ?? (rows.length
      ? `${rows.length} row${rows.length === 1 ? '' : 's'} loaded${exhausted ? '' : ', more available'}`
      : '');
    moreButton.hidden = exhausted;
    moreButton.disabled = !!loading;
    moreButton.textContent = loading ? 'Loading…' : 'Load more';
  }

  // ---- loading ------------------------------------------------------------------------------------------
  async function fetchPage(reset) {
    const mine = reset ? ++generation : generation;
    const request = {scrollId: reset ? null : scrollId, size: opts.pageSize, sort: state.sort,
      filters: {...state.filters}, visible: [...state.visible]};
    const run = (async () => {
      drawStatus('Loading…');
      try {
        const page = await opts.load(request);
        if (mine !== generation) return;
        if (reset) rows = [];
        const got = page.rows || [];
        rows = rows.concat(got);
        scrollId = page.scrollId ?? null;
        exhausted = got.length < opts.pageSize || !scrollId;
        // The selection outlives reloads (filter, sort, after an action), as in the reference app: the bar
        // says how many are selected, shown or not; rows loaded again replace their stale copies.
        for (const row of got) if (selected.has(opts.rowId(row))) selected.set(opts.rowId(row), row);
        loading = null; // before drawing: an empty answer shows the empty text
        if (reset) drawRows(); else tbody.append(...got.map(rowElement));
        drawStatus();
        drawSelection();
      } catch (err) {
        if (mine !== generation) return;
        loading = null;
        exhausted = true;
        if (reset) { rows = []; drawRows(); }
        drawStatus(`Could not load: ${err.message}`);
        status.setAttribute('role', 'alert');
      }
    })();
    loading = run;
    await run;
    if (loading === run) loading = null;
  }

  function reload() {
    status.setAttribute('role', 'status');
    exhausted = false;
    loading = null;
    return fetchPage(true);
  }

  function loadMore() {
    if (loading || exhausted) return loading;
    return fetchPage(false);
  }

  // ---- column chooser -----------------------------------------------------------------------------------
  function openChooser() {
    const headingId = uid('cols');
    const dialog = h('dialog', {'aria-labelledby': headingId, class: 'column-chooser'});
    const list = h('ul', {class: 'column-list', 'aria-label': 'Columns'});
    const draw = () => {
      const order = [...state.visible, ...columns.map((c) => c.id).filter((id) => !state.visible.includes(id))];
      replace(list, order.map(columnById).filter(Boolean).map((column) => {
        const id = uid('col');
        const shown = state.visible.includes(column.id);
        const index = state.visible.indexOf(column.id);
        const move = (delta) => {
          const to = index + delta;
          if (to < 0 || to >= state.visible.length) return;
          const next = [...state.visible];
          [next[index], next[to]] = [next[to], next[index]];
          setVisible(next);
          draw();
          list.querySelector(`[data-col="${CSS.escape(column.id)}"] .${delta < 0 ? 'up' : 'down'}`)?.focus();
        };
        return h('li', {dataset: {col: column.id}},
          h('input', {type: 'checkbox', id, checked: shown, disabled: column.removable === false,
            onchange: (event) => {
              setVisible(event.target.checked ? [...state.visible, column.id]
                : state.visible.filter((c) => c !== column.id));
              draw();
            }}),
          h('label', {for: id}, column.label),
          h('span', {class: 'spacer'}),
          h('button', {type: 'button', class: 'up', 'aria-label': `Move ${column.label} up`,
            disabled: !shown || index === 0, onclick: () => move(-1)}, '↑'),
          h('button', {type: 'button', class: 'down', 'aria-label': `Move ${column.label} down`,
            disabled: !shown || index === state.visible.length - 1, onclick: () => move(1)}, '↓'),
          column.onRemove ? h('button', {type: 'button', 'aria-label': `Remove column ${column.label}`,
            onclick: () => { column.onRemove(); draw(); }}, '×') : null);
      }));
    };
    const close = () => { dialog.close(); dialog.remove(); };
    draw();
    dialog.addEventListener('close', () => dialog.remove());
    dialog.append(h('h2', {id: headingId}, 'Columns'), list,
      opts.chooserExtras ? opts.chooserExtras(api, draw) : null,
      h('div', {class: 'actions'}, h('button', {type: 'button', class: 'primary', onclick: close}, 'Done')));
    document.body.append(dialog);
    dialog.showModal();
  }

  function setVisible(ids) {
    state.visible = ids.filter((id, i) => columnById(id) && ids.indexOf(id) === i);
    changed();
    drawHeader();
    // Columns may need fields the loaded rows lack (only_fields): reload.
    reload();
  }

  function setColumns(next, visible = null) {
    columns = next;
    state.visible = (visible || state.visible).filter((id) => columnById(id));
    drawHeader();
    drawRows();
  }

  function setSort(sort) { state.sort = sort; drawHeader(); }
  function setFilters(filters) { state.filters = {...filters}; drawHeader(); }

  const api = {
    element,
    reload,
    loadMore,
    openChooser,
    setColumns,
    setVisible,
    setSort,
    setFilters,
    columns: () => columns,
    selectedRows: () => [...selected.values()],
    clearSelection: () => { selected.clear(); drawSelection(); },
    loadedRows: () => rows,
    get state() { return {visible: [...state.visible], sort: [...state.sort], filters: {...state.filters}}; },
    destroy() { observer.disconnect(); closePopover(); generation++; },
  };
  drawHeader();
  drawStatus('');
  return api;
}

function toLocalInput(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  return `${day}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** Sort keys as order_by: ["name", "-started"]. */
export function encodeSort(sort) {
  return sort.map((s) => `${s.order === -1 ? '-' : ''}${s.field}`);
}

export function decodeSort(text) {
  if (!text) return [];
  return String(text).split(',').filter(Boolean).map((key) => (key.startsWith('-')
    ? {field: key.slice(1), order: -1} : {field: key, order: 1}));
}
