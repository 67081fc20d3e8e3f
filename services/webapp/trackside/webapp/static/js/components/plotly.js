// plotly.js (the npm package plotly.js-dist-min, pinned in services/webapp/frontend), loaded once, on the
// first page that draws a chart.
let loading = null;

export function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  loading ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = '/vendor/plotly.min.js';
    script.onload = () => resolve(window.Plotly);
    script.onerror = () => reject(new Error('plotly.js could not be loaded'));
    document.head.append(script);
  });
  return loading;
}
