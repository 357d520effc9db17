// Draws the dashboard's charts with ECharts (served from /static/vendor, no CDN).
// Each .ef-chart carries its data in data-chart (built by the KPI services); without ECharts
// the figures above each chart still show every number and link.
(function () {
  "use strict";
  if (typeof window.echarts === "undefined") { return; }
  var charts = [];

  function axisFormatter(unit) {
    return unit === "percent" ? "{value}%" : "{value}";
  }

  function cartesian(spec) {
    var series = (spec.series || []).map(function (s, i) {
      var out = { name: s.name, type: spec.kind === "bar" ? "bar" : "line", data: s.data,
                  connectNulls: false, smooth: false };
      if (i === 0 && spec.target) {
        out.markLine = { symbol: "none", silent: true, lineStyle: { type: "dashed", color: "#c23531" },
                         label: { formatter: spec.target.label, position: "insideEndTop" },
                         data: [{ yAxis: spec.target.value }] };
      }
      return out;
    });
    var max = spec.unit === "percent" ? 100 : null;
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0, type: "scroll" },
      grid: { left: 40, right: 12, top: 30, bottom: 28, containLabel: true },
      xAxis: { type: "category", data: spec.x, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", max: max, axisLabel: { formatter: axisFormatter(spec.unit) } },
      series: series
    };
  }

  function pie(spec) {
    return {
      tooltip: { trigger: "item" },
      legend: { bottom: 0, type: "scroll" },
      series: [{ type: "pie", radius: ["35%", "65%"], data: (spec.series || []).map(function (s) {
        return { name: s.name, value: s.data };
      }) }]
    };
  }

  function map(spec) {
    return {
      tooltip: { formatter: function (p) { return p.name + ": " + p.value[2]; } },
      visualMap: { min: 0, max: spec.max || 1, dimension: 2, orient: "horizontal", left: "center", bottom: 0,
                   calculable: false, inRange: { color: ["#ffffb2", "#fd8d3c", "#bd0026"] } },
      grid: { left: 30, right: 30, top: 30, bottom: 40 },
      xAxis: { type: "value", scale: true, show: false },
      yAxis: { type: "value", scale: true, show: false },
      series: [{ type: "scatter", data: spec.points,
                 symbolSize: function (v) { return 18 + 30 * (v[2] / (spec.max || 1)); },
                 label: { show: true, formatter: "{b}", position: "top" } }]
    };
  }

  function draw(node) {
    var spec;
    try { spec = JSON.parse(node.getAttribute("data-chart")); } catch (e) { return; }
    var option = spec.kind === "pie" ? pie(spec) : (spec.kind === "map" ? map(spec) : cartesian(spec));
    var chart = window.echarts.init(node, null, { renderer: "canvas" });
    chart.setOption(option);
    if (spec.hrefs) {
      chart.on("click", function (p) {
        var target = spec.hrefs[p.dataIndex];
        if (target) { window.location.href = target; }
      });
    }
    node.setAttribute("data-rendered", "1");
    charts.push(chart);
  }

  Array.prototype.forEach.call(document.querySelectorAll(".ef-chart[data-chart]"), draw);
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
}());
