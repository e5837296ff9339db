// Appended to a copy of the report by test_report.py (capacity_forecaster.report.browser):
// measures what a reader sees in real Chromium and writes it to <html data-probe="...">.
window.addEventListener('load', function () {
  var out = {errors: [], tables: {}};
  try {
    // Text in the SVG charts as drawn: font size x the SVG's scale on the page.
    var smallest = Infinity, texts = 0;
    document.querySelectorAll('svg').forEach(function (svg) {
      var vb = svg.viewBox && svg.viewBox.baseVal;
      var scale = vb && vb.width ? svg.getBoundingClientRect().width / vb.width : 1;
      svg.querySelectorAll('text').forEach(function (t) {
        var px = parseFloat(getComputedStyle(t).fontSize) * scale;
        texts += 1;
        if (px < smallest) smallest = px;
      });
    });
    out.min_svg_font_px = texts ? smallest : null;
    out.svg_texts = texts;
    out.charts = Array.prototype.map.call(
      document.querySelectorAll('figure.at-risk-chart'),
      function (f) { return [f.getAttribute('data-server'), f.getAttribute('data-metric')]; });
    // The first column (server) of the at-risk tables as the reader sees it, before any sort.
    out.table_servers = {};
    ['breaching-now-table', 'will-breach-table'].forEach(function (id) {
      var t = document.getElementById(id);
      out.table_servers[id] = t ? Array.prototype.map.call(
        t.tBodies[0].rows, function (r) { return r.cells[0].textContent.trim(); }) : [];
    });
    out.sections = Array.prototype.map.call(document.querySelectorAll('h2[id]'), function (h) { return h.id; });

    // Sort every sortable table by a real click on a header, both directions, and filter it.
    function keys(table, col) {
      return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
        var c = r.cells[col];
        var raw = c.hasAttribute('data-sort') ? c.getAttribute('data-sort') : c.textContent.trim();
        if (raw === '' || raw === '\u2013') return null;
        var n = Number(raw);
        return isNaN(n) ? raw.toLowerCase() : n;
      }).filter(function (k) { return k !== null; });
    }
    function ordered(list, dir) {
      for (var i = 1; i < list.length; i++) {
        if (typeof list[i] !== typeof list[i - 1]) continue;
        if (dir * (list[i] < list[i - 1] ? -1 : (list[i] > list[i - 1] ? 1 : 0)) < 0) return false;
      }
      return true;
    }
    document.querySelectorAll('table.sortable').forEach(function (table) {
      var rows = table.tBodies[0].rows.length;
      if (rows < 2) return;
      var heads = table.tHead.rows[0].cells, result = {rows: rows, columns: {}};
      Array.prototype.forEach.call(heads, function (th, col) {
        th.click();
        var asc = keys(table, col), ascState = th.getAttribute('aria-sort');
        th.click();
        var desc = keys(table, col), descState = th.getAttribute('aria-sort');
        result.columns[th.textContent.trim()] = {
          ascending: ascState === 'ascending' && ordered(asc, 1),
          descending: descState === 'descending' && ordered(desc, -1),
          distinct: new Set(asc.map(String)).size
        };
      });
      var box = table.previousElementSibling && table.previousElementSibling.previousElementSibling;
      if (box && box.tagName === 'INPUT') {
        var first = table.tBodies[0].rows[0].cells[0].textContent.trim();
        box.value = first;
        box.dispatchEvent(new Event('input'));
        result.filter_text = first;
        result.filtered_visible = Array.prototype.filter.call(
          table.tBodies[0].rows, function (r) { return !r.hidden; }).length;
        box.value = '';
        box.dispatchEvent(new Event('input'));
        result.unfiltered_visible = Array.prototype.filter.call(
          table.tBodies[0].rows, function (r) { return !r.hidden; }).length;
      }
      out.tables[table.id] = result;
    });
  } catch (e) {
    out.errors.push(String(e && e.stack || e));
  }
  document.documentElement.setAttribute('data-probe', JSON.stringify(out));
});
