// Queues (/workers-and-queues/queues): every queue (queues.get_all_ex) with its length, the head's waiting
// time, the next task and the workers serving it; create, rename, clear and delete (a row's menu button or a
// right-click, where custom UI actions for queues are appended). The selected queue (?id=<queue>, as the
// reference app) lists its tasks in order: drag a task onto another's place, or use its Move up / Move down
// buttons and menu (move to front / back, move to another queue, remove). Length and waiting-time charts
// come from queues.get_queue_metrics. The page refreshes every 5 s while shown, keeping the selection, focus
// and a drag in progress.
import {api} from '../api.js';
import {setQuery} from '../router.js';
import {errorBox, h, replace, toast} from '../dom.js';
import {alertDialog, confirmDialog, formDialog, pickQueue} from '../components/dialogs.js';
import {createListTable} from '../components/list_table.js';
import {contextMenu, uiActionItems} from '../components/ui_actions.js';
import {agoCell, chartCard, chartInterval, drawTimeChart, poll, rangeSelect, savedRange, sectionLinks, sinceCell,
  timeWindow, updateAgo}
  from '../components/live_stats.js';

const CHART_REFRESH_MS = 15000;
const caption = (queue) => queue.display_name || queue.name || queue.id;
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
const taskHref = (taskId) => `/projects/*/tasks/${taskId}/execution`;
const workerHref = (name) => `/workers-and-queues/workers?id=${encodeURIComponent(name)}`;

/** Seconds the head of the queue has waited (null when empty). */
function headWait(queue) {
  const added = queue.entries?.[0]?.added;
  return added ? Math.max(0, (Date.now() - new Date(added).getTime()) / 1000) : null;
}

/** A "⋯" button opening a menu of `items()` (built when opened, so they are current). */
function menuButton(label, items) {
  return h('button', {type: 'button', class: 'icon-button', 'aria-haspopup': 'menu', 'aria-label': label, title: label,
    onclick: (event) => contextMenu(event, items())}, '⋯');
}

/** The reference app's rules for a queue's name and display name. */
export function queueNameProblem(values, queues, exceptId = null) {
  const name = values.name.trim();
  const display = values.display_name.trim();
  const others = queues.filter((q) => q.id !== exceptId);
  if (!name) return 'Name is required';
  if (name.length < 3) return 'Name should contain at least 3 characters';
  if (others.some((q) => q.name === name || q.display_name === name)) return 'Name should be unique';
  if (display && display.length < 3) return 'Display name should contain at least 3 characters';
  if (display && others.some((q) => q.name === display || q.display_name === display)) {
    return 'Display name should be unique';
  }
  return null;
}

export async function render({root, query}) {
  let rangeSec = savedRange();
  let selectedId = query.get('id') || null;
  let queues = [];
  let stopped = false;
  let busy = 0; // moves in flight: the entries list is not redrawn from a refresh meanwhile
  let drag = null; // {taskId, from}
  let entriesSignature = '';
  let headSignature = '';
  let chartsFetched = 0;
  let chartGeneration = 0;

  const count = h('p', {class: 'muted table-count', role: 'status'}, 'Loading queues…');
  const errorLine = h('div');
  const table = createListTable({
    label: 'Queues', rowKey: (q) => q.id, rowLabel: caption, sort: {column: 'name', order: 1}, selected: selectedId,
    emptyText: 'No queues yet',
    columns: [
      {id: 'name', label: 'Queue', sortValue: caption, render: (q) => h('span', {class: 'queue-caption'},
        h('strong', {}, caption(q)), q.display_name && q.display_name !== q.name
          ? h('span', {class: 'muted small'}, ` ${q.name}`) : null)},
      {id: 'workers', label: 'Workers', sortValue: (q) => (q.workers || []).length,
        render: (q) => String((q.workers || []).length)},
      {id: 'next', label: 'Next task', sortValue: (q) => q.entries?.[0]?.task?.name ?? null,
        render: (q) => (q.entries?.length ? h('a', {href: taskHref(q.entries[0].task.id)},
          q.entries[0].task.name || q.entries[0].task.id) : '—')},
      {id: 'length', label: 'In queue', sortValue: (q) => (q.entries || []).length,
        render: (q) => String((q.entries || []).length)},
      {id: 'wait', label: 'Waiting', sortValue: headWait,
        render: (q) => (q.entries?.[0]?.added ? sinceCell(q.entries[0].added, 'How long the next task has waited')
          : '—')},
      {id: 'last_update', label: 'Last updated', sortValue: (q) => q.last_update || null,
        render: (q) => agoCell(q.last_update)},
      {id: 'menu', label: h('span', {class: 'visually-hidden'}, 'Actions'),
        render: (q) => menuButton(`Actions for ${caption(q)}`, () => queueMenuItems(q))},
    ],
    onSelect: (queue) => choose(queue?.id || null),
    decorateRow: (tr, queue) => tr.addEventListener('contextmenu', (event) => openContextMenu(event, queue)),
  });

  const detail = h('section', {class: 'panel queue-detail', 'aria-label': 'Selected queue', hidden: true});
  const detailHead = h('div', {class: 'detail-head'});
  const entriesBox = h('div', {class: 'queue-entries-box'});
  const workersBox = h('div', {class: 'queue-workers-box'});
  detail.append(detailHead, h('div', {class: 'queue-detail-grid'}, entriesBox, workersBox));
  const waitChart = chartCard('Average waiting time', 'queue-wait');
  const lengthChart = chartCard('Queue length', 'queue-length');
  const chartsTitle = h('h2', {id: 'queue-metrics-title'}, 'All queues');

  replace(root,
    h('div', {class: 'page-title'}, h('h1', {}, 'Queues'), sectionLinks('queues')),
    h('div', {class: 'toolbar'}, count, h('span', {class: 'spacer'}),
      rangeSelect('queues-range', rangeSec, (value) => { rangeSec = value; refreshCharts(); }),
      h('button', {type: 'button', onclick: () => refresh(true)}, 'Refresh'),
      h('button', {type: 'button', class: 'primary', onclick: createQueue}, 'New queue')),
    errorLine, table.element, detail,
    h('section', {class: 'panel', 'aria-labelledby': 'queue-metrics-title'}, chartsTitle,
      h('div', {class: 'chart-grid stats-grid'}, waitChart.element, lengthChart.element)));

  const selected = () => queues.find((q) => q.id === selectedId) || null;

  function choose(id) {
    if (id === selectedId) return;
    selectedId = id;
    table.select(id);
    setQuery({id});
    entriesSignature = '';
    drawDetail();
    refreshCharts();
  }

  // ---- loading ------------------------------------------------------------------------------------------
  async function refresh(charts = false) {
    try {
      const data = await api('queues.get_all_ex', {order_by: ['name']});
      if (stopped) return;
      queues = data.queues || [];
      count.textContent = plural(queues.length, 'queue');
      table.setRows(queues);
      drawDetail();
      updateAgo(root);
      replace(errorLine);
    } catch (error) {
      if (!stopped) replace(errorLine, errorBox(error));
    }
    if (charts || Date.now() - chartsFetched >= CHART_REFRESH_MS) await refreshCharts();
  }

  // ---- the selected queue -------------------------------------------------------------------------------
  function drawDetail() {
    const queue = selected();
    detail.hidden = !queue;
    chartsTitle.textContent = queue ? `Queue ${caption(queue)}` : 'All queues';
    if (!queue) { entriesSignature = ''; headSignature = ''; return; }
    // Head and workers are rebuilt only when they changed, so focus on their buttons survives a refresh.
    const head = JSON.stringify([queue.id, caption(queue), queue.workers]);
    if (head !== headSignature) {
      headSignature = head;
      replace(detailHead, h('h2', {}, caption(queue)), h('code', {class: 'muted', title: 'Queue id'}, queue.id),
        h('span', {class: 'spacer'}),
        menuButton(`Actions for ${caption(queue)}`, () => queueMenuItems(selected() || queue)),
        h('button', {type: 'button', onclick: () => choose(null)}, 'Close'));
      drawWorkers(queue);
    }
    // Redrawn only when the order changed, and never under a drag or a move in flight.
    const signature = JSON.stringify((queue.entries || []).map((e) => [e.task.id, e.task.name]));
    if (drag || busy || signature === entriesSignature) return;
    entriesSignature = signature;
    drawEntries(queue);
  }

  function drawWorkers(queue) {
    const workers = queue.workers || [];
    replace(workersBox, h('h3', {}, `Workers serving it (${workers.length})`),
      workers.length ? h('ul', {class: 'plain-list', 'aria-label': `Workers serving ${caption(queue)}`},
        workers.map((w) => h('li', {}, h('a', {href: workerHref(w.name)}, w.name),
          w.task?.id ? [' running ', h('a', {href: taskHref(w.task.id)}, w.task.name || w.task.id)] : ' idle')))
        : h('p', {class: 'muted'}, 'No worker listens on this queue'));
  }

  function drawEntries(queue) {
    const entries = queue.entries || [];
    const focused = document.activeElement?.closest?.('[data-task]');
    const focusTask = focused?.dataset.task;
    const focusControl = document.activeElement?.dataset?.control;
    const list = h('ol', {class: 'queue-entries', 'aria-label': `Tasks in ${caption(queue)}, in order`},
      entries.map((entry, index) => entryItem(queue, entry, index, entries.length)));
    replace(entriesBox, h('h3', {}, `Queued tasks (${entries.length})`),
      entries.length
        ? [h('p', {class: 'muted small'}, 'Drag a task onto another one to take its place, or use its buttons.'), list]
        : h('p', {class: 'muted'}, 'No tasks are queued'));
    // A keyboard user's focus follows the task they moved.
    if (focusTask) {
      const item = list.querySelector(`[data-task="${CSS.escape(focusTask)}"]`);
      (item?.querySelector(`[data-control="${focusControl}"]:not(:disabled)`) || item)?.focus();
    }
  }

  function entryItem(queue, entry, index, total) {
    const task = entry.task;
    const name = task.name || task.id;
    const li = h('li', {class: 'queue-entry', draggable: 'true', tabindex: '-1', dataset: {task: task.id, index}},
    h('span', {class: 'drag-handle', 'aria-hidden': 'true', title: 'Drag to reorder'}, '⠿'),
    h('span', {class: 'entry-position'}, String(index + 1)),
    h('a', {href: taskHref(task.id), class: 'entry-name', draggable: 'false'}, name),
    h('code', {class: 'entry-id muted', title: task.id}, task.id.slice(0, 8)),
    h('span', {class: 'entry-added muted small'}, entry.added ? ['queued ', agoCell(entry.added)] : ''),
    h('span', {class: 'entry-buttons'},
      h('button', {type: 'button', class: 'icon-button', dataset: {control: 'up'}, disabled: index === 0,
        'aria-label': `Move ${name} up`, title: 'Move up', onclick: () => move(queue, task, index, index - 1)}, '↑'),
      h('button', {type: 'button', class: 'icon-button', dataset: {control: 'down'}, disabled: index === total - 1,
        'aria-label': `Move ${name} down`, title: 'Move down',
        onclick: () => move(queue, task, index, index + 1)}, '↓'),
      menuButton(`Actions for task ${name}`, () => entryMenuItems(queue, task, index, total))));
    li.addEventListener('dragstart', (event) => {
      drag = {taskId: task.id, from: index};
      event.dataTransfer.effectAllowed = 'move';
      event.dataTransfer.setData('text/plain', task.id);
      li.classList.add('dragging');
    });
    li.addEventListener('dragover', (event) => {
      if (!drag) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'move';
      markDropTarget(li, index);
    });
    li.addEventListener('dragleave', () => li.classList.remove('drop-before', 'drop-after'));
    li.addEventListener('drop', (event) => {
      event.preventDefault();
      const from = drag?.from;
      endDrag();
      // Dropped on a task: it takes that task's place (the others shift towards where it came from).
      if (from !== undefined && from !== index) move(queue, queue.entries[from].task, from, index);
    });
    li.addEventListener('dragend', endDrag);
    return li;
  }

  function markDropTarget(li, index) {
    for (const other of entriesBox.querySelectorAll('.drop-before, .drop-after')) {
      if (other !== li) other.classList.remove('drop-before', 'drop-after');
    }
    li.classList.toggle('drop-before', index < drag.from);
    li.classList.toggle('drop-after', index > drag.from);
  }

  function endDrag() {
    drag = null;
    for (const el of entriesBox.querySelectorAll('.dragging, .drop-before, .drop-after')) {
      el.classList.remove('dragging', 'drop-before', 'drop-after');
    }
  }

  /** Move a task from one position to another: the list changes at once, the API follows; on failure the
   * server's order comes back. */
  async function move(queue, task, from, to) {
    const entries = [...(queue.entries || [])];
    if (to < 0 || to >= entries.length || from === to) return;
    const [moved] = entries.splice(from, 1);
    entries.splice(to, 0, moved);
    queue.entries = entries;
    entriesSignature = JSON.stringify(entries.map((e) => [e.task.id, e.task.name]));
    drawEntries(queue);
    // The ends have their own endpoints; between them, so many places towards the head or the tail.
    const [endpoint, extra] = to === 0 ? ['queues.move_task_to_front', {}]
      : to === entries.length - 1 ? ['queues.move_task_to_back', {}]
        : to < from ? ['queues.move_task_forward', {count: from - to}]
          : ['queues.move_task_backward', {count: to - from}];
    busy++;
    try {
      await api(endpoint, {queue: queue.id, task: task.id, ...extra});
    } catch (error) {
      toast(`Could not move ${task.name || task.id}: ${error.message}`, 'error', 8000);
      entriesSignature = '';
    } finally {
      busy--;
    }
    await refresh();
  }

  function entryMenuItems(queue, task, index, total) {
    return [
      {label: 'Move to front', disabled: index === 0, run: () => move(queue, task, index, 0)},
      {label: 'Move to back', disabled: index === total - 1, run: () => move(queue, task, index, total - 1)},
      {label: 'Move to queue…', run: () => moveToQueue(queue, task)},
      {label: 'Remove from queue', danger: true, run: () => removeTask(queue, task)},
    ];
  }

  // The reference app's "move to queue": out of this queue, into the other one (its status stays queued).
  async function moveToQueue(queue, task) {
    const target = await pickQueue({title: `Move "${task.name || task.id}" to queue`, confirmLabel: 'Move'});
    if (!target || target.id === queue.id) return;
    try {
      await api('queues.remove_task', {queue: queue.id, task: task.id});
      try {
        await api('queues.add_task', {queue: target.id, task: task.id});
      } catch (error) {
        await api('queues.add_task', {queue: queue.id, task: task.id}).catch(() => {});
        throw error;
      }
      toast(`Moved "${task.name || task.id}" to ${target.name}`, 'success');
    } catch (error) {
      toast(`Could not move ${task.name || task.id}: ${error.message}`, 'error', 8000);
    }
    entriesSignature = '';
    await refresh(true);
  }

  async function removeTask(queue, task) {
    try {
      await api('queues.remove_task', {queue: queue.id, task: task.id, update_task_status: true});
      toast(`Removed "${task.name || task.id}" from ${caption(queue)}`, 'success');
    } catch (error) {
      toast(`Could not remove ${task.name || task.id}: ${error.message}`, 'error', 8000);
    }
    entriesSignature = '';
    await refresh(true);
  }

  // ---- queue actions ------------------------------------------------------------------------------------
  async function queueMenuItems(queue) {
    const length = (queue.entries || []).length;
    const own = [
      {label: 'Rename', run: () => renameQueue(queue)},
      {label: 'Clear', disabled: !length, title: length ? null : 'The queue is empty', run: () => clearQueue(queue)},
      {label: 'Delete', danger: true, run: () => deleteQueue(queue)},
    ];
    // Custom actions for queues (organization.ui_actions.queue) follow ours; none configured: none shown.
    const custom = await uiActionItems('queue', [queue.id]).catch(() => []);
    return [...own, {separator: true}, ...custom];
  }

  function openContextMenu(event, queue) {
    contextMenu(event, queueMenuItems(queue));
  }

  async function createQueue() {
    const values = await formDialog({
      title: 'New queue', submitLabel: 'Create',
      fields: [{name: 'name', label: 'Name', required: true},
        {name: 'display_name', label: 'Display name', placeholder: 'Optional'}],
      validate: (v) => queueNameProblem(v, queues),
      submit: async (v) => {
        const created = await api('queues.create', {name: v.name.trim(),
          ...(v.display_name.trim() && {display_name: v.display_name.trim()})});
        choose(created.id);
      },
    });
    if (values) {
      toast(`Queue "${values.display_name.trim() || values.name.trim()}" created`, 'success');
      refresh(true);
    }
  }

  async function renameQueue(queue) {
    const values = await formDialog({
      title: 'Rename queue', submitLabel: 'Save',
      fields: [{name: 'name', label: 'Name', value: queue.name, required: true},
        {name: 'display_name', label: 'Display name', value: queue.display_name || '', placeholder: 'Optional'}],
      validate: (v) => queueNameProblem(v, queues, queue.id),
      submit: (v) => api('queues.update', {queue: queue.id, name: v.name.trim(), display_name: v.display_name.trim()}),
    });
    if (values) { toast('Queue renamed', 'success'); refresh(); }
  }

  async function clearQueue(queue) {
    const n = (queue.entries || []).length;
    const ok = await confirmDialog({title: 'Clear all pending tasks', confirmLabel: 'Clear queue', danger: true,
      message: `Dequeue the ${plural(n, 'task')} pending on the ${caption(queue)} queue? They go back to draft.`});
    if (!ok) return;
    try {
      const data = await api('queues.clear_queue', {queue: queue.id});
      const removed = (data.removed_tasks || []).length;
      toast(`${plural(removed, 'task')} dequeued from ${caption(queue)}`, 'success');
    } catch (error) {
      await alertDialog({title: 'Could not clear the queue', message: error.message});
    }
    entriesSignature = '';
    refresh(true);
  }

  // Deleting a queue that holds tasks is forced (queues.delete force=true): its tasks go back to draft,
  // and the confirmation says so.
  async function deleteQueue(queue) {
    const n = (queue.entries || []).length;
    const ok = await confirmDialog({title: 'Delete queue', confirmLabel: 'Delete', danger: true,
      message: h('div', {}, h('p', {}, `Delete the "${caption(queue)}" queue?`),
        n ? h('p', {}, `It holds ${plural(n, 'queued task')}: they will be dequeued and go back to draft.`) : null,
        (queue.workers || []).length ? h('p', {}, `${plural(queue.workers.length, 'worker')} listen on it.`) : null)});
    if (!ok) return;
    try {
      await api('queues.delete', {queue: queue.id, force: n > 0});
      toast(`Queue "${caption(queue)}" deleted`, 'success');
      if (selectedId === queue.id) choose(null);
    } catch (error) {
      await alertDialog({title: 'Could not delete the queue', message: error.message});
    }
    refresh(true);
  }

  // ---- charts -------------------------------------------------------------------------------------------
  async function refreshCharts() {
    chartsFetched = Date.now();
    const mine = ++chartGeneration;
    const range = timeWindow(rangeSec);
    const interval = chartInterval(rangeSec, waitChart.plot.clientWidth || 600);
    const queueId = selectedId;
    try {
      const data = await api('queues.get_queue_metrics', {...range, interval,
        ...(queueId && {queue_ids: [queueId]})});
      if (stopped || mine !== chartGeneration) return;
      const series = (data.queues || [])[0] || {dates: [], avg_waiting_times: [], queue_lengths: []};
      const empty = !series.dates.length;
      // Samples are written when a queue changes; its length holds until the next change, so the line runs
      // on to now at the length the table shows.
      const shown = queueId ? queues.filter((q) => q.id === queueId) : queues;
      const lengthNow = shown.reduce((n, q) => n + (q.entries || []).length, 0);
      const lengths = {dates: [...series.dates, range.to_date * 1000], values: [...series.queue_lengths, lengthNow]};
      waitChart.note.textContent = empty ? 'No queue activity in this time range' : '';
      await Promise.all([
        drawTimeChart(waitChart.plot, {windowSec: range, yTitle: 'Seconds', hoverSuffix: ' s',
          series: [{name: 'Average wait', dates: series.dates, values: series.avg_waiting_times}]}),
        drawTimeChart(lengthChart.plot, {windowSec: range, yTitle: 'Tasks',
          series: [{name: 'Length', ...lengths, shape: 'hv'}]}),
      ]);
    } catch (error) {
      if (!stopped) replace(waitChart.note, errorBox(error));
    }
  }

  await refresh(true);
  const stop = poll(() => refresh(false));
  return () => {
    stopped = true;
    stop();
    if (window.Plotly) for (const el of root.querySelectorAll('.stats-plot')) window.Plotly.purge(el);
  };
}
