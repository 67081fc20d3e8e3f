// The `debug-images` element: the latest debug sample of each listed variant of the metric, fetched through the
// web app's /files proxy; a click opens the task page's sample viewer (previous/next, iteration slider).
import {api, appConfig} from '../../../api.js';
import {h, replace} from '../../../dom.js';
import {media, openViewer} from '../../../components/debug_samples.js';
import {variantsOf} from './series.js';

export function mount(body, element, ctx) {
  const box = h('div', {class: 'app-images'}, h('p', {class: 'muted'}, 'Loading debug samples…'));
  body.append(box);
  const wanted = variantsOf(element);
  let signature = null;

  async function draw() {
    try {
      const [answer, config] = await Promise.all([
        api('events.debug_images', {metrics: [{task: ctx.taskId, metric: String(element.metric ?? '')}], iters: 3,
          navigate_earlier: true}),
        appConfig()]);
      const latest = new Map();
      for (const iteration of answer.metrics?.[0]?.iterations || []) {
        for (const event of iteration.events || []) {
          if (event.metric !== element.metric || (wanted.length && !wanted.includes(event.variant))) continue;
          const seen = latest.get(event.variant);
          if (!seen || event.iter > seen.iter) latest.set(event.variant, event);
        }
      }
      const events = (wanted.length ? wanted : [...latest.keys()].sort()).map((v) => latest.get(v)).filter(Boolean);
      const next = JSON.stringify(events.map((e) => [e.variant, e.iter, e.url, e.timestamp]));
      if (next === signature) return;
      signature = next;
      if (!events.length) { replace(box, h('p', {class: 'muted'}, 'No debug samples reported yet')); return; }
      replace(box, events.map((event) => h('button', {type: 'button', class: 'app-image',
        'aria-label': `Open ${event.metric} / ${event.variant} iteration ${event.iter}`,
        onclick: () => openViewer(ctx.taskId, event, config, false)},
      media(event, config, {thumb: true}),
      h('span', {class: 'sample-caption'}, `${event.variant} · iteration ${event.iter}`))));
    } catch (error) {
      ctx.fail(box, error);
    }
  }

  draw();
  return {refresh: draw};
}
