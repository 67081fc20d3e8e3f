// Console tab: the task's log in the virtual console view, following it while the task runs.
import {mountConsole} from '../../components/console_view.js';

export async function render(container, ctx) {
  container.classList.add('console-tab');
  return mountConsole(container, {taskId: ctx.taskId, isRunning: ctx.isRunning});
}
