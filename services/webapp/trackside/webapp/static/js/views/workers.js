// Workers (/workers-and-queues/workers): the live workers (workers.get_all) with their queues, running task
// (a link to its console) and last activity; the selected worker's CPU/GPU, memory, GPU memory and network
// charts (workers.get_stats) and everyone's utilisation, workers reporting vs running a task
// (workers.get_activity_report), over a chosen time range. The page refreshes every 5 s while shown; the
// selection is in the URL (?id=<worker>, as the reference app).
import {api} from '../api.js';
import {setQuery} from '../router.js';
import {errorBox, fmtDate, fmtDuration, fmtNumber, h, replace} from '../dom.js';
import {createListTable} from '../components/list_table.js';
import {agoCell, chartCard, chartInterval, drawTimeChart, poll, rangeSelect, savedRange, sectionLinks, timeWindow,
  updateAgo}
  from '../components/live_stats.js';

// One chart per group, as the reference app's chart choices (its "CPU and GPU Usage", "Memory Usage", ...).
// The agent reports memory in MiB and network rates in MiB/s. The API gives 0 for a bucket without reports
// (as the reference); no machine uses 0 MiB, so on the memory charts a 0 is drawn as a gap (zeroIsGap).
const WORKER_CHARTS = [
  {id: 'usage', title: 'CPU and GPU usage', yTitle: 'Usage %', suffix: '%',
    keys: [['cpu_usage', 'CPU'], ['gpu_usage', 'GPU']]},
  {id: 'memory', title: 'Memory used', yTitle: 'MiB', suffix: ' MiB', zeroIsGap: true,
    keys: [['memory_used', 'Memory used']]},
  {id: 'gpu-memory', title: 'GPU memory used', yTitle: 'MiB', suffix: ' MiB', zeroIsGap: true,
    keys: [['gpu_memory_used', 'GPU memory used']]},
  {id: 'network', title: 'Network', yTitle: 'MiB/s', suffix: ' MiB/s',
    keys: [['network_rx', 'Receive'], ['network_tx', 'Transmit']]},
];
// Charts are fetched again at most this often (their buckets are 40 s or wider); the table every poll.
const CHART_REFRESH_MS = 15000;

export const taskLogHref = (task, project) => `/projects/${project?.id || '*'}/tasks/${task.id}/output/log`;
const queuesHref = (queueId) => `/workers-and-queues/queues?id=${encodeURIComponent(queueId)}`;

function taskLink(worker) {
  if (!worker.task?.id) return '—';
  const name = worker.task.name || worker.task.id;
  return h('a', {href: taskLogHref(worker.task, worker.project), title: `Console of ${name}`}, name);
}

function queueLinks(worker) {
  const queues = worker.queues || [];
  if (!queues.length) return '—';
  return h('span', {class: 'queue-links'}, queues.map((q, i) => [i ? ', ' : '',
    h('a', {href: queuesHref(q.id)}, q.display_name || q.name || q.id)]));
}

const COLUMNS = [
  {id: 'name', label: 'Worker', sortValue: (w) => w.id, render: (w) => h('strong', {class: 'worker-name'}, w.id)},
  {id: 'queues', label: 'Queues', render: queueLinks,
    sortValue: (w) => (w.queues || []).map((q) => q.display_name || q.name).join(', ')},
  {id: 'task', label: 'Running task', render: taskLink, sortValue: (w) => w.task?.name ?? null},
  {id: 'running_time', label: 'Run time', sortValue: (w) => w.task?.running_time ?? null,
    render: (w) => (w.task?.running_time ? fmtDuration(w.task.running_time / 1000) : '—')},
  {id: 'iteration', label: 'Iteration', sortValue: (w) => w.task?.last_iteration ?? null,
    render: (w) => (w.task?.last_iteration !== undefined && w.task?.last_iteration !== null
      ? fmtNumber(w.task.last_iteration) : '—')},
  {id: 'last_activity', label: 'Last activity', sortValue: (w) => w.last_activity_time || null,
    render: (w) => agoCell(w.last_activity_time)},
];

export async function render({root, query}) {
  let rangeSec = savedRange();
  let selectedId = query.get('id') || null;
  let stopped = false;
  let chartsFetched = 0;
  let chartGeneration = 0;

  const count = h('p', {class: 'muted table-count', role: 'status'}, 'Loading workers…');
  const table = createListTable({
    label: 'Workers', columns: COLUMNS, rowKey: (w) => w.id, rowLabel: (w) => w.id,
    sort: {column: 'name', order: 1}, selected: selectedId, emptyText: 'No workers are reporting',
    onSelect: (worker) => choose(worker?.id || null),
  });
  const detail = h('section', {class: 'panel worker-detail', 'aria-label': 'Selected worker', hidden: true});
  const workerCharts = WORKER_CHARTS.map((chart) => ({...chart, ...chartCard(chart.title, `worker-${chart.id}`)}));
  const workerGrid = h('div', {class: 'chart-grid stats-grid'}, workerCharts.map((c) => c.element));
  const activity = chartCard('Utilisation: workers reporting and running a task', 'activity');
  const errorLine = h('div');

  replace(root,
    h('div', {class: 'page-title'}, h('h1', {}, 'Workers'), sectionLinks('workers')),
    h('div', {class: 'toolbar'}, count, h('span', {class: 'spacer'}),
      rangeSelect('workers-range', rangeSec, (value) => { rangeSec = value; refreshCharts(); }),
      h('button', {type: 'button', onclick: () => refresh(true)}, 'Refresh')),
    errorLine, table.element, detail,
    h('section', {class: 'panel', 'aria-labelledby': 'activity-title'},
      h('h2', {id: 'activity-title'}, 'Utilisation'),
      h('div', {class: 'chart-grid stats-grid single'}, activity.element)));

  function choose(id) {
    if (id === selectedId) return;
    selectedId = id;
    table.select(id);
    setQuery({id});
    drawDetail();
    refreshCharts();
  }

  // Rebuilt only when what it shows changed (times update in place), so focus on its links and buttons
  // survives the 5 s refresh.
  let detailShown = '';
  function drawDetail() {
    const worker = selectedId ? table.rows().find((w) => w.id === selectedId) : null;
    detail.hidden = !worker;
    if (!worker) { replace(detail); detailShown = ''; return; }
    const runTime = worker.task?.running_time ? fmtDuration(worker.task.running_time / 1000) : '—';
    const shown = JSON.stringify([worker.id, worker.ip, worker.task?.id, worker.task?.name, worker.project?.id,
      worker.queues, worker.register_time, worker.last_activity_time]);
    if (shown !== detailShown) {
      detailShown = shown;
      const info = h('dl', {class: 'kv worker-info'},
        h('dt', {}, 'Worker'), h('dd', {}, worker.id),
        h('dt', {}, 'IP'), h('dd', {}, worker.ip || '—'),
        h('dt', {}, 'Running task'), h('dd', {}, taskLink(worker)),
        h('dt', {}, 'Run time'), h('dd', {class: 'run-time'}, runTime),
        h('dt', {}, 'Queues'), h('dd', {}, queueLinks(worker)),
        h('dt', {}, 'Registered'), h('dd', {}, fmtDate(worker.register_time) || '—'),
        h('dt', {}, 'Last activity'), h('dd', {}, agoCell(worker.last_activity_time)));
      const head = h('div', {class: 'detail-head'}, h('h2', {}, worker.id), h('span', {class: 'spacer'}),
        h('button', {type: 'button', onclick: () => choose(null)}, 'Close'));
      const focused = detail.contains(document.activeElement) && !workerGrid.contains(document.activeElement)
        ? document.activeElement.textContent : null;
      // The charts stay (they are redrawn in place).
      replace(detail, head, info, workerGrid);
      if (focused) [...detail.querySelectorAll('a, button')].find((el) => el.textContent === focused)?.focus();
    }
    detail.querySelector('.run-time').textContent = runTime;
  }


  async function refresh(charts = false) {
    try {
      const data = await api('workers.get_all', {});
      if (stopped) return;
      const workers = data.workers || [];
      count.textContent = `${workers.length} worker${workers.length === 1 ? '' : 's'}`;
      table.setRows(workers);
      drawDetail();
      updateAgo(root);
      replace(errorLine);
    } catch (error) {
      if (!stopped) replace(errorLine, errorBox(error));
    }
    if (charts || Date.now() - chartsFetched >= CHART_REFRESH_MS) await refreshCharts();
  }

  async function refreshCharts() {
    chartsFetched = Date.now();
    const mine = ++chartGeneration;
    const width = (activity.plot.clientWidth || 800);
    const range = timeWindow(rangeSec);
    const interval = chartInterval(rangeSec, width);
    const jobs = [drawActivity(range, interval, mine)];
    if (selectedId) jobs.push(drawWorker(selectedId, range, chartInterval(rangeSec, workerGrid.clientWidth / 2), mine));
    await Promise.all(jobs);
  }

  async function drawActivity(range, interval, mine) {
    try {
      const data = await api('workers.get_activity_report', {...range, interval});
      if (stopped || mine !== chartGeneration) return;
      const any = (data.total?.counts || []).some((n) => n);
      activity.note.textContent = any ? '' : 'No worker reported in this time range';
      await drawTimeChart(activity.plot, {windowSec: range, yTitle: 'Workers', series: [
        {name: 'Total', dates: data.total?.dates || [], values: data.total?.counts || [], shape: 'hv'},
        {name: 'Active', dates: data.active?.dates || [], values: data.active?.counts || [], shape: 'hv'},
      ]});
    } catch (error) {
      if (!stopped) replace(activity.note, errorBox(error));
    }
  }

  async function drawWorker(workerId, range, interval, mine) {
    const items = WORKER_CHARTS.flatMap((c) => c.keys.map(([key]) => ({key, aggregation: 'avg'})));
    const registered = Date.parse(table.rows().find((w) => w.id === workerId)?.register_time || '') || 0;
    try {
      const data = await api('workers.get_stats', {...range, interval, worker_ids: [workerId], items});
      if (stopped || mine !== chartGeneration || workerId !== selectedId) return;
      const metrics = (data.workers || []).find((w) => w.worker === workerId)?.metrics || [];
      await Promise.all(workerCharts.map((chart) => {
        const series = chart.keys.map(([key, name]) => {
          const found = metrics.find((m) => m.metric === key && !m.variant);
          const stat = found?.stats?.find((s) => s.aggregation === 'avg') || found?.stats?.[0];
          if (!stat) return null;
          const dates = stat.dates || found.dates;
          // A 0 is "no report" where the machine cannot have read 0, or before this worker registered.
          const gap = (v, i) => !v && (chart.zeroIsGap || dates[i] + interval * 1000 < registered);
          return {name, dates, values: stat.values.map((v, i) => (gap(v, i) ? null : Number(v.toFixed(2))))};
        }).filter(Boolean);
        chart.note.textContent = series.length ? ''
          : (chart.id.startsWith('gpu') ? 'No GPU reported in this time range' : 'No data in this time range');
        // An empty chart is only its note (a machine without GPUs has no GPU memory to draw).
        chart.plot.hidden = !series.length;
        if (!series.length) { window.Plotly?.purge(chart.plot); return null; }
        return drawTimeChart(chart.plot, {windowSec: range, yTitle: chart.yTitle, series, hoverSuffix: chart.suffix});
      }));
    } catch (error) {
      if (!stopped) for (const chart of workerCharts) replace(chart.note, errorBox(error));
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

