// Debug samples: per metric, the latest iterations' images (audio, video, html) as thumbnails
// (events.debug_images; older iterations on request), and a viewer moving to the previous/next sample
// (events.next_debug_image_sample) or to any iteration with a slider (events.get_debug_image_sample).
// Every file is fetched through the web app's /files proxy with the user's token.
import {api, appConfig, fileUrl} from '../api.js';
import {debounce, errorBox, h, replace} from '../dom.js';

const ITERATIONS = 5;

export function mediaKind(url) {
  const path = String(url || '').split(/[?#]/)[0].toLowerCase();
  if (/\.(mp4|webm|ogv|mov|m4v)$/.test(path)) return 'video';
  if (/\.(wav|mp3|ogg|oga|flac|m4a|aac)$/.test(path)) return 'audio';
  if (/\.html?$/.test(path)) return 'html';
  return 'image';
}

export function media(event, config, {thumb = false} = {}) {
  const src = fileUrl(event.url, config);
  const label = `${event.metric} / ${event.variant}, iteration ${event.iter}`;
  const kind = mediaKind(event.url);
  if (kind === 'image') return h('img', {src, alt: label, loading: thumb ? 'lazy' : null, class: 'sample-media'});
  if (thumb) return h('div', {class: `sample-media sample-icon sample-${kind}`, 'aria-hidden': 'true'}, kind);
  if (kind === 'video') return h('video', {src, controls: true, class: 'sample-media', 'aria-label': label});
  if (kind === 'audio') return h('audio', {src, controls: true, class: 'sample-media', 'aria-label': label});
  return h('iframe', {src, sandbox: '', class: 'sample-media sample-html', title: label});
}

/** The viewer: a dialog on one sample with previous/next and an iteration slider. */
export function openViewer(taskId, start, config, modelEvents) {
  let state = null; // the last answer: {scroll_id, event, min_iteration, max_iteration}
  const title = h('h2', {id: 'sample-viewer-title'});
  const stage = h('div', {class: 'sample-stage'});
  const slider = h('input', {type: 'range', id: 'sample-iteration', min: '0', max: '0', step: '1'});
  const iterationOut = h('output', {for: slider.id});
  const prev = h('button', {type: 'button', onclick: () => step(true)}, 'Previous sample');
  const next = h('button', {type: 'button', onclick: () => step(false)}, 'Next sample');
  const download = h('a', {class: 'button', download: '', 'data-external': ''}, 'Download');
  const close = h('button', {type: 'button', onclick: () => dialog.close()}, 'Close');
  const dialog = h('dialog', {class: 'sample-viewer', 'aria-labelledby': title.id},
    h('div', {class: 'toolbar'}, title, h('span', {class: 'spacer'}), download, close),
    stage,
    h('div', {class: 'toolbar sample-nav'}, prev,
      h('label', {for: slider.id}, 'Iteration'), slider, iterationOut, next));
  dialog.addEventListener('close', () => dialog.remove());
  dialog.addEventListener('keydown', (event) => {
    if (event.target === slider) return;
    if (event.key === 'ArrowLeft') step(true);
    if (event.key === 'ArrowRight') step(false);
  });
  document.body.append(dialog);
  dialog.showModal();

  function show(answer) {
    state = answer;
    const event = answer.event;
    if (!event) { replace(stage, h('p', {class: 'muted'}, 'No sample here')); return; }
    title.textContent = `${event.metric} / ${event.variant}`;
    replace(stage, media(event, config));
    download.href = fileUrl(event.url, config);
    slider.min = String(answer.min_iteration ?? event.iter);
    slider.max = String(answer.max_iteration ?? event.iter);
    slider.value = String(event.iter);
    slider.disabled = slider.min === slider.max;
    iterationOut.textContent = String(event.iter);
  }

  async function load(body) {
    try {
      show(await api('events.get_debug_image_sample', {task: taskId, model_events: modelEvents, ...body}));
    } catch (error) {
      replace(stage, errorBox(error));
    }
  }

  async function step(earlier) {
    if (!state?.scroll_id) return;
    try {
      const answer = await api('events.next_debug_image_sample', {task: taskId, scroll_id: state.scroll_id,
        navigate_earlier: earlier});
      if (answer.event) show(answer);
    } catch (error) {
      replace(stage, errorBox(error));
    }
  }

  const seek = debounce(() => {
    const event = state?.event;
    if (event) load({metric: event.metric, variant: event.variant, iteration: Number(slider.value)});
  }, 150);
  slider.addEventListener('input', () => { iterationOut.textContent = slider.value; seek(); });
  load({metric: start.metric, variant: start.variant, iteration: start.iter});
  return dialog;
}

/** mountDebugSamples(container, {taskId, modelEvents, isRunning}) -> cleanup. */
export function mountDebugSamples(container, {taskId, modelEvents = false, isRunning = () => false}) {
  let destroyed = false;
  let scrollId = null;
  const iterations = new Map(); // iter -> events
  const filter = h('input', {type: 'search', id: 'samples-filter', placeholder: 'Filter metrics'});
  const more = h('button', {type: 'button', onclick: () => load(false)}, 'Load older iterations');
  const body = h('div', {class: 'samples'}, h('p', {class: 'muted'}, 'Loading debug samples…'));
  container.append(h('div', {class: 'toolbar'}, h('label', {for: filter.id}, 'Metrics'), filter,
    h('span', {class: 'spacer'}), more), body);
  let config = null;

  function draw() {
    const wanted = filter.value.trim().toLowerCase();
    const byMetric = new Map();
    for (const [iter, events] of [...iterations.entries()].sort((a, b) => b[0] - a[0])) {
      for (const event of events) {
        if (wanted && !event.metric.toLowerCase().includes(wanted)) continue;
        if (!byMetric.has(event.metric)) byMetric.set(event.metric, new Map());
        const rows = byMetric.get(event.metric);
        if (!rows.has(iter)) rows.set(iter, []);
        rows.get(iter).push(event);
      }
    }
    if (!byMetric.size) { replace(body, h('p', {class: 'muted'}, 'No debug samples reported')); return; }
    replace(body, [...byMetric.keys()].sort().map((metric) => h('section', {class: 'sample-group',
      'aria-label': `Debug samples ${metric}`}, h('h2', {}, metric),
    [...byMetric.get(metric).entries()].map(([iter, events]) => h('div', {class: 'sample-row'},
      h('h3', {class: 'muted'}, `Iteration ${iter}`),
      h('div', {class: 'sample-thumbs'}, events.map((event) => h('button', {type: 'button', class: 'sample-thumb',
        'aria-label': `Open ${event.metric} / ${event.variant} iteration ${event.iter}`,
        onclick: () => openViewer(taskId, event, config, modelEvents)},
      media(event, config, {thumb: true}), h('span', {class: 'sample-caption'}, event.variant)))))))));
  }

  async function load(refresh) {
    try {
      config ??= await appConfig();
      const body_ = {metrics: [{task: taskId}], iters: ITERATIONS, navigate_earlier: true, model_events: modelEvents};
      if (!refresh && scrollId) body_.scroll_id = scrollId;
      if (refresh) body_.refresh = true;
      const answer = await api('events.debug_images', body_);
      if (destroyed) return;
      if (!refresh || !scrollId) scrollId = answer.scroll_id;
      const got = answer.metrics?.[0]?.iterations || [];
      if (!refresh && !got.length && iterations.size) more.disabled = true;
      for (const it of got) iterations.set(it.iter, it.events);
      draw();
    } catch (error) {
      replace(body, errorBox(error));
    }
  }

  filter.addEventListener('input', debounce(draw, 150));
  load(false);
  const timer = setInterval(() => { if (isRunning() && document.visibilityState === 'visible') load(true); }, 10000);
  return () => { destroyed = true; clearInterval(timer); };
}
