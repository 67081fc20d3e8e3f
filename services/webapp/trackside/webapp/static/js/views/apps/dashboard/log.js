// The `log` element: the task's console (components/console_view.js: virtual list, server-side search), opened
// at its end and following new lines while the instance runs.
import {mountConsole} from '../../../components/console_view.js';

export function mount(body, element, ctx) {
  body.classList.add('app-log');
  return {destroy: mountConsole(body, {taskId: ctx.taskId, isRunning: ctx.isRunning})};
}
