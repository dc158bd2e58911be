// Draws every chart of the page from its JSON block (<script class="chart-data">).
// The numbers are formatted by the server; the charts only draw them.
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  const palette = ["#2456d6", "#1a7f45", "#c77700", "#b3261e", "#6a3fb5", "#0f7c8c"];
  const percent = new Intl.NumberFormat(document.documentElement.lang, { style: "percent", maximumFractionDigits: 1 });
  const number = new Intl.NumberFormat(document.documentElement.lang, { maximumFractionDigits: 1 });
  document.querySelectorAll("script.chart-data").forEach(function (block) {
    const spec = JSON.parse(block.textContent);
    const canvas = document.getElementById(block.dataset.chart);
    if (!canvas) { return; }
    const format = spec.percent ? percent.format : number.format;
    new Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (dataset, index) {
          const colour = palette[index % palette.length];
          return {
            label: dataset.label, data: dataset.data, borderColor: colour,
            backgroundColor: spec.type === "bar" ? colour : colour + "22",
            pointRadius: 0, borderWidth: 2, tension: 0.2, fill: false,
          };
        }),
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: !!spec.stacked, ticks: { maxTicksLimit: 8 } },
          y: { stacked: !!spec.stacked, ticks: { callback: function (value) { return format(value); } } },
        },
        plugins: {
          legend: { display: spec.datasets.length > 1 },
          tooltip: { callbacks: { label: function (item) { return item.dataset.label + ": " + format(item.parsed.y); } } },
        },
      },
    });
  });
})();
