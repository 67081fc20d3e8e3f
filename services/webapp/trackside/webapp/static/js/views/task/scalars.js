// Scalars tab: the task's scalar charts and single values; live while the task runs.
import {mountScalars} from '../../components/scalars_panel.js';

export async function render(container, ctx) {
  return mountScalars(container, {ids: [ctx.taskId], isRunning: ctx.isRunning});
}
