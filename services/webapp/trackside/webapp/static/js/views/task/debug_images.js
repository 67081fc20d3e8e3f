// Debug samples tab.
import {mountDebugSamples} from '../../components/debug_samples.js';

export async function render(container, ctx) {
  return mountDebugSamples(container, {taskId: ctx.taskId, isRunning: ctx.isRunning});
}
