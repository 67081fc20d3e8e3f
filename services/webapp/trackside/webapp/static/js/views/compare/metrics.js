// The tasks' last reported scalar values (task.last_metrics: {metric hash: {variant hash: {metric, variant,
// value, min_value, max_value}}}), by "metric / variant".

export function lastMetrics(tasks) {
  const series = new Map(); // key -> {metric, variant, values: Map(task id -> entry)}
  for (const t of tasks) {
    for (const variants of Object.values(t.last_metrics || {})) {
      for (const entry of Object.values(variants || {})) {
        if (!entry || entry.metric === undefined) continue;
        const key = `${entry.metric} / ${entry.variant}`;
        if (!series.has(key)) series.set(key, {key, metric: entry.metric, variant: entry.variant, values: new Map()});
        series.get(key).values.set(t.id, entry);
      }
    }
  }
  return [...series.values()].sort((a, b) => a.key.localeCompare(b.key));
}

export const VALUE_KINDS = [['value', 'Last'], ['min_value', 'Min'], ['max_value', 'Max']];
