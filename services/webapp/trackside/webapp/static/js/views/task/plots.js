// Plots tab: the task's reported plotly figures.
import {mountPlots} from '../../components/plots_panel.js';

export async function render(container, ctx) {
  return mountPlots(container, {ids: [ctx.taskId]});
}
