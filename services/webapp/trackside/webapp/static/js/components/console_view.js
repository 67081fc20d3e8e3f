// The console: a virtual list over a log of any length. Rows have a fixed height and only the visible ones are
// in the DOM; lines are fetched by position in blocks (events.get_task_log_lines) as the view scrolls to them.
// Search runs on the server over the whole log (events.search_task_log) and jumps to the hit; the log opens at
// its end and follows new lines while the task runs. Download asks events.download_task_log for the whole file.
import {api, csrfToken} from '../api.js';
import {debounce, h, toast} from '../dom.js';

const ROW = 18;            // px, must match .console-row in app.css
const BLOCK = 500;         // lines a request
const MAX_HEIGHT = 8e6;    // px of scroll height; longer logs map scroll position to line proportionally
const MAX_CACHED = 60000;  // lines kept; beyond this the cache is cut back to the neighbourhood of the view
const POLL_MS = 3000;

function timeOf(line) {
  if (!line.timestamp) return '';
  const d = new Date(line.timestamp);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString(undefined, {hour12: false});
}

/** The [start, end) of the first match of the search in text, or null (regex errors: no highlight). */
function matchRange(text, search) {
  if (!search?.text) return null;
  try {
    if (search.regex) {
      const m = new RegExp(search.text, search.caseSensitive ? '' : 'i').exec(text);
      return m ? [m.index, m.index + m[0].length] : null;
    }
    const hay = search.caseSensitive ? text : text.toLowerCase();
    const needle = search.caseSensitive ? search.text : search.text.toLowerCase();
    const at = hay.indexOf(needle);
    return at < 0 ? null : [at, at + needle.length];
  } catch {
    return null;
  }
}

/**
 * mountConsole(container, {taskId, isRunning}) -> cleanup.
 * isRunning(): whether to keep polling for new lines.
 */
export function mountConsole(container, {taskId, isRunning = () => false}) {
  let total = 0;
  const lines = new Map();     // line number -> line
  const pending = new Set();   // block numbers being fetched
  let follow = isRunning();
  let hit = null;              // line number of the current search hit
  let search = null;           // {text, regex, caseSensitive}
  let destroyed = false;
  let frame = 0;

  const searchInput = h('input', {type: 'search', id: 'console-search', placeholder: 'Search the whole log',
    autocomplete: 'off'});
  const regexBox = h('input', {type: 'checkbox', id: 'console-regex'});
  const caseBox = h('input', {type: 'checkbox', id: 'console-case'});
  const followBox = h('input', {type: 'checkbox', id: 'console-follow', checked: follow});
  const status = h('span', {class: 'console-status muted', role: 'status', 'aria-live': 'polite'});
  const counter = h('span', {class: 'console-count muted'});
  const prevButton = h('button', {type: 'button', onclick: () => find('prev')}, 'Previous match');
  const nextButton = h('button', {type: 'button', onclick: () => find('next')}, 'Next match');
  const downloadButton = h('button', {type: 'button', onclick: download}, 'Download log');
  const spacer = h('div', {class: 'console-spacer'});
  const layer = h('div', {class: 'console-layer'});
  const viewport = h('div', {class: 'console-viewport', tabindex: '0', role: 'region',
    'aria-label': 'Console output'}, spacer, layer);
  const toolbar = h('div', {class: 'toolbar console-toolbar'},
    h('label', {for: searchInput.id, class: 'sr-only'}, 'Search console'), searchInput,
    h('label', {class: 'check'}, regexBox, ' Regex'),
    h('label', {class: 'check'}, caseBox, ' Match case'),
    prevButton, nextButton, status,
    h('span', {class: 'spacer'}), counter,
    h('label', {class: 'check'}, followBox, ' Follow'),
    downloadButton);
  container.append(toolbar, viewport);

  const height = () => Math.min(total * ROW, MAX_HEIGHT);
  const scaled = () => total * ROW > MAX_HEIGHT;
  const visibleCount = () => Math.ceil(viewport.clientHeight / ROW) + 1;

  /** The first line shown for the current scroll position. */
  function firstLine() {
    const top = viewport.scrollTop;
    if (!scaled()) return Math.floor(top / ROW);
    const range = Math.max(1, height() - viewport.clientHeight);
    return Math.round((top / range) * Math.max(0, total - visibleCount() + 1));
  }

  function scrollToLine(n, where = 'center') {
    const shown = visibleCount();
    let first = where === 'center' ? n - Math.floor(shown / 2) : n;
    first = Math.max(0, Math.min(first, total - shown + 1));
    if (!scaled()) viewport.scrollTop = first * ROW;
    else viewport.scrollTop = (first / Math.max(1, total - shown + 1)) * (height() - viewport.clientHeight);
    schedule();
  }

  function scrollToEnd() {
    spacer.style.height = `${height()}px`; // grown first, or the end would be the old one
    viewport.scrollTop = viewport.scrollHeight;
    schedule();
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; draw(); });
  }

  function rowFor(n) {
    const line = lines.get(n);
    const row = h('div', {class: `console-row${n === hit ? ' console-hit' : ''}`, dataset: {line: n}});
    row.append(h('span', {class: 'console-gutter', 'aria-hidden': 'true'}, String(n + 1)));
    if (!line) {
      row.append(h('span', {class: 'console-msg muted'}, '…'));
      return row;
    }
    row.append(h('span', {class: 'console-time', 'aria-hidden': 'true'}, timeOf(line)));
    const text = String(line.msg ?? '').replace(/\n/g, ' ⏎ ');
    const range = n === hit ? matchRange(text, search) : null;
    const msg = h('span', {class: `console-msg level-${line.level || 'info'}`});
    if (range) {
      msg.append(text.slice(0, range[0]), h('mark', {}, text.slice(range[0], range[1])), text.slice(range[1]));
    } else {
      msg.textContent = text;
    }
    row.append(msg);
    return row;
  }

  function draw() {
    if (destroyed) return;
    spacer.style.height = `${height()}px`;
    const first = firstLine();
    const count = Math.min(visibleCount(), Math.max(0, total - first));
    layer.style.transform = `translateY(${scaled() ? viewport.scrollTop : first * ROW}px)`;
    const rows = [];
    const missing = new Set();
    for (let n = first; n < first + count; n++) {
      rows.push(rowFor(n));
      if (!lines.has(n)) missing.add(Math.floor(n / BLOCK));
    }
    layer.replaceChildren(...rows);
    counter.textContent = total ? `${total.toLocaleString()} lines` : 'No output yet';
    for (const block of missing) fetchBlock(block);
  }

  function remember(got) {
    for (const line of got) lines.set(line.line, line);
    if (lines.size > MAX_CACHED) {
      const keepFrom = firstLine() - MAX_CACHED / 4;
      const keepTo = firstLine() + MAX_CACHED / 4;
      for (const n of lines.keys()) if (n < keepFrom || n > keepTo) lines.delete(n);
    }
  }

  async function fetchBlock(block) {
    if (pending.has(block)) return;
    pending.add(block);
    try {
      const data = await api('events.get_task_log_lines', {task: taskId, offset: block * BLOCK, limit: BLOCK});
      if (destroyed) return;
      remember(data.lines || []);
      if (data.total > total) total = data.total;
      schedule();
    } catch (error) {
      status.textContent = error.message;
    } finally {
      pending.delete(block);
    }
  }

  async function loadTail() {
    const data = await api('events.get_task_log_lines', {task: taskId, from_end: true, limit: BLOCK});
    if (destroyed) return;
    total = data.total || 0;
    remember(data.lines || []);
    draw();
    scrollToEnd();
  }

  let wasRunning = isRunning();
  async function poll() {
    if (destroyed) return;
    // While the task runs, and once more after it ended: the lines it wrote after the last poll.
    const running = isRunning();
    const ended = wasRunning && !running;
    wasRunning = running;
    if (!running && !ended) return;
    try {
      const data = await api('events.get_task_log_lines', {task: taskId, offset: total, limit: 2000});
      if (destroyed) return;
      remember(data.lines || []);
      if (data.total !== total) {
        total = data.total;
        if (follow) scrollToEnd(); else schedule();
      }
    } catch (error) {
      console.warn('console poll failed', error);
    }
  }

  async function find(direction) {
    const text = searchInput.value;
    if (!text) { status.textContent = 'Type something to search'; return; }
    const fresh = !search || search.text !== text || search.regex !== regexBox.checked
      || search.caseSensitive !== caseBox.checked;
    if (fresh) search = {text, regex: regexBox.checked, caseSensitive: caseBox.checked};
    const here = hit ?? (direction === 'next' ? firstLine() - 1 : firstLine() + visibleCount());
    const from = fresh && hit === null ? (direction === 'next' ? 0 : undefined)
      : (direction === 'next' ? here + 1 : here - 1);
    const body = {task: taskId, text, regex: search.regex, case_sensitive: search.caseSensitive, direction,
      count: false};
    if (fresh) countMatches(search, {...body, direction: 'next', from_offset: 0, count: true});
    if (from !== undefined && from >= 0) body.from_offset = from;
    status.textContent = 'Searching…';
    try {
      let answer = await searchAll(body);
      let wrapped = false;
      if (!answer.found && from !== undefined && !(direction === 'next' && from === 0)) {
        // No wrap-around on the server: start again from the other end.
        const again = {...body, count: false};
        delete again.from_offset;
        if (direction === 'next') again.from_offset = 0;
        answer = await searchAll(again);
        wrapped = answer.found;
      }
      if (!answer.found) {
        hit = null;
        status.textContent = `No match for “${text}”`;
        schedule();
        return;
      }
      if (answer.total > total) total = answer.total;
      hit = answer.offset;
      if (answer.line) lines.set(answer.line.line, answer.line);
      follow = false;
      followBox.checked = false;
      spacer.style.height = `${height()}px`;
      scrollToLine(hit);
      search.shown = `Match at line ${(hit + 1).toLocaleString()}`;
      search.wrapped = wrapped;
      showStatus();
    } catch (error) {
      status.textContent = error.message;
    }
  }

  function showStatus() {
    if (!search?.shown) return;
    const n = search.matches;
    const plural = n === 1 && !search.capped ? '' : 'es';
    const count = n !== undefined ? ` · ${n}${search.capped ? '+' : ''} match${plural}` : '';
    status.textContent = `${search.shown}${count}${search.wrapped ? ' (wrapped)' : ''}`;
  }

  /** How many lines match, asked beside the search so the hit is not held back by the count. */
  async function countMatches(which, body) {
    try {
      const answer = await api('events.search_task_log', body);
      if (search !== which || answer.matches === undefined) return;
      which.matches = answer.matches;
      which.capped = answer.matches_capped;
      showStatus();
    } catch {
      // The count is a nicety; the search itself reports errors.
    }
  }

  /** One search to its end: the server stops at a time budget (done: false) and says where it got to. */
  async function searchAll(body) {
    let answer = await api('events.search_task_log', body);
    while (!answer.found && answer.done === false && !destroyed) {
      const next = body.direction === 'next' ? answer.searched_to + 1 : answer.searched_to - 1;
      if (next < 0 || next >= (answer.total ?? Infinity)) break;
      const of = (answer.total || 0).toLocaleString();
      status.textContent = `Searching… line ${(next + 1).toLocaleString()} of ${of}`;
      answer = await api('events.search_task_log', {...body, count: false, from_offset: next});
    }
    return answer;
  }

  async function download() {
    downloadButton.disabled = true;
    try {
      const response = await fetch('/api/events.download_task_log', {
        method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken()},
        body: JSON.stringify({task: taskId, line_type: 'text'}),
      });
      if (!response.ok) throw new Error(`Download failed (HTTP ${response.status})`);
      const url = URL.createObjectURL(await response.blob());
      const link = h('a', {href: url, download: `task_${taskId}.log`});
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 5000);
    } catch (error) {
      toast(error.message, 'error');
    } finally {
      downloadButton.disabled = false;
    }
  }

  searchInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') { event.preventDefault(); find(event.shiftKey ? 'prev' : 'next'); }
  });
  searchInput.addEventListener('input', debounce(() => {
    if (searchInput.value) return;
    hit = null; // cleared: no hit highlighted
    search = null;
    status.textContent = '';
    schedule();
  }, 200));
  followBox.addEventListener('change', () => { follow = followBox.checked; if (follow) scrollToEnd(); });
  viewport.addEventListener('scroll', () => {
    // Scrolling away from the end stops following; back at the end resumes it.
    const atEnd = viewport.scrollTop + viewport.clientHeight >= viewport.scrollHeight - ROW;
    if (follow !== atEnd && isRunning()) { follow = atEnd; followBox.checked = atEnd; }
    schedule();
  }, {passive: true});
  viewport.addEventListener('keydown', (event) => {
    // Keys move by lines; in a scaled (very long) log one pixel of scroll is more than a line, so a step is
    // at least a pixel's worth of lines.
    const page = visibleCount() - 2;
    const step = Math.max(1, Math.ceil(total / Math.max(1, height() - viewport.clientHeight)));
    const moves = {PageDown: page, PageUp: -page, ArrowDown: step, ArrowUp: -step};
    if (event.key === 'End') { scrollToEnd(); event.preventDefault(); }
    if (event.key === 'Home') { viewport.scrollTop = 0; event.preventDefault(); }
    if (moves[event.key] && scaled()) { scrollToLine(firstLine() + moves[event.key], 'top'); event.preventDefault(); }
  });
  const resize = new ResizeObserver(() => schedule());
  resize.observe(viewport);

  loadTail().catch((error) => { status.textContent = error.message; });
  const timer = setInterval(poll, POLL_MS);
  return () => {
    destroyed = true;
    clearInterval(timer);
    resize.disconnect();
    if (frame) cancelAnimationFrame(frame);
  };
}
