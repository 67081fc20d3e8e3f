// `scalar` and `scalar-histogram` elements: the task's scalar chart (components/scalars_panel.js, downsampled,
// zoomable, live while the instance runs) limited to the element's metric and variants. A histogram draws bars
// over its `key`: iter (iterations), timestamp (seconds since the first point) or iso_time (wall-clock dates).
import {api} from '../../../api.js';
import {mountScalars} from '../../../components/scalars_panel.js';

const X_AXIS = {iter: 'iter', timestamp: 'relative', iso_time: 'wall'};

export function variantsOf(element) {
  const variant = element.variant;
  if (Array.isArray(variant)) return variant.map(String);
  return variant === undefined || variant === null || variant === '' ? [] : [String(variant)];
}

/** No variant listed: every variant the task reported for the metric so far (its last_metrics summary). */
async function reportedVariants(taskId, metric) {
  const {tasks = []} = await api('tasks.get_all_ex', {id: [taskId], only_fields: ['last_metrics']});
  const found = new Set();
  for (const variants of Object.values(tasks[0]?.last_metrics || {})) {
    for (const entry of Object.values(variants || {})) if (entry?.metric === metric) found.add(entry.variant);
  }
  return [...found].sort();
}

export function mount(body, element, ctx) {
  const histogram = element.type === 'scalar-histogram';
  const metric = String(element.metric ?? '');
  const fixed = {
    metrics: [{metric, variants: variantsOf(element)}],
    xAxis: histogram ? X_AXIS[element.key] || 'iter' : 'iter',
    hideLegend: Boolean(element.hide_legend),
    bars: histogram,
  };
  let destroy = null;
  let gone = false;
  const start = async () => {
    if (!fixed.metrics[0].variants.length) fixed.metrics[0].variants = await reportedVariants(ctx.taskId, metric);
    if (!gone) destroy = mountScalars(body, {ids: [ctx.taskId], isRunning: ctx.isRunning, fixed});
  };
  start().catch((error) => ctx.fail(body, error));
  return {destroy: () => { gone = true; destroy?.(); }};
}
