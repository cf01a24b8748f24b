// The campaign's daily chart on its stats page: numbers from the page's json_script,
// colours from the design tokens of app.css. No inline script (strict CSP).
(function () {
  "use strict";

  function draw() {
    var canvas = document.getElementById("daily-chart");
    var source = document.getElementById("daily-chart-data");
    if (!canvas || !source || typeof window.Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var styles = window.getComputedStyle(document.documentElement);
    var css = function (name) { return styles.getPropertyValue(name).trim(); };
    var Chart = window.Chart;
    Chart.defaults.font.family = css("--font") || Chart.defaults.font.family;
    Chart.defaults.color = css("--text-muted") || Chart.defaults.color;

    var box = canvas.parentElement;  // Chart.js sizes the canvas to its box
    box.style.position = "relative";
    box.style.height = window.matchMedia("(max-width: 600px)").matches ? "220px" : "280px";

    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (series) {
          return {
            label: series.label,
            data: series.data,
            backgroundColor: css(series.color),
            borderRadius: 3,
            maxBarThickness: 28
          };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true, grid: { display: false }, ticks: { autoSkipPadding: 8, maxRotation: 0 } },
          y: {
            stacked: true,
            beginAtZero: true,
            ticks: { precision: 0 },
            grid: { color: css("--border") }
          }
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12, color: css("--text") } }
        }
      }
    });
    // The chart is drawn: the same numbers stay one click away, as a table.
    var table = document.getElementById("daily-table");
    if (table) table.removeAttribute("open");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
