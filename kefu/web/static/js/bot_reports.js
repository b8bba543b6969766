/* The bot report's daily chart (templates/bot/reports.html): stacked bars of bot conversations
 * by what became of them, and the self-service rate as a line. The table under the chart has
 * the same numbers, so nothing is lost when ECharts cannot load. */
(function () {
  "use strict";
  var box = document.getElementById("bot-report-chart"), data = document.getElementById("bot-report-data");
  if (!box || !data || !window.echarts) return;
  var d = JSON.parse(data.textContent), L = d.labels;
  var chart = window.echarts.init(box, null, { renderer: "svg" });
  function bars(key, color) { return { name: L[key], type: "bar", stack: "c", data: d[key], itemStyle: { color: color }, barMaxWidth: 36 }; }
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 40, right: 48, top: 36, bottom: 28 },
    xAxis: { type: "category", data: d.days },
    yAxis: [
      { type: "value", minInterval: 1 },
      { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" }, splitLine: { show: false } }
    ],
    series: [
      bars("self_served", "#22a06b"),
      bars("agent_joined", "#8f7ee7"),
      bars("handed_off", "#f5a623"),
      { name: L.rate, type: "line", yAxisIndex: 1, data: d.rate, connectNulls: true, symbolSize: 6, itemStyle: { color: "#1f6feb" } }
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
