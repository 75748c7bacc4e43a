/* hexwatch dashboard: browser-side pieces.
 * - decodeHexes: rebuilds hex features from the compact payload (see dashboard/mapdata.py).
 * - renderDistricts: merges district outlines with the emergency status of the selected day.
 * - hexStyle/districtStyle/outlineStyle: Leaflet styles; classNames are the machine-readable
 *   marks tests read (hw-hex, hw-district, hw-d-<ubigeo>, hw-emergency).
 * Number formats mirror dashboard/i18n.py: 1.234,5 (es) and 1,234.5 (en).
 */
(function () {
  function fmtNum(v, lang, d) {
    if (v === null || v === undefined || Number.isNaN(v)) return null;
    var s = Number(v).toLocaleString('en-US', {minimumFractionDigits: d, maximumFractionDigits: d});
    if (lang === 'en') return s;
    return s.replace(/,/g, '\u0000').replace(/\./g, ',').replace(/\u0000/g, '.');
  }
  function fmtPct(v, lang) {
    if (v === null || v === undefined || Number.isNaN(v)) return null;
    return (v > 0 ? '+' : '') + fmtNum(v, lang, 1) + (lang === 'es' ? ' %' : '%');
  }
  // Text from data files (district names, ubigeos, decree ids, count labels) goes into
  // tooltip HTML only through esc(): a planted <script> shows as text, never runs.
  var ESC = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'};
  function esc(v) { return String(v === null || v === undefined ? '' : v).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }
  var EMPTY = {type: 'FeatureCollection', features: []};

  function decodeHexes(p) {
    if (!p || !p.count) return [EMPTY, '0', '0'];
    var n = p.count, q = p.q;
    var raw = atob(p.buf.replace(/-/g, '+').replace(/_/g, '/'));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    var buf = bytes.buffer;
    var m = (bytes.length - 30 * n) / 2;  // vertices in all (see dashboard/mapdata.py)
    var cells = new BigUint64Array(buf, 0, n);
    var lat = new Int32Array(buf, 8 * n, n), lon = new Int32Array(buf, 12 * n, n);
    var cnt = new Uint32Array(buf, 16 * n, n), base = new Uint32Array(buf, 20 * n, n);
    var chg = new Int16Array(buf, 24 * n, n), ub = new Int16Array(buf, 26 * n, n);
    var off = new Int8Array(buf, 28 * n, 2 * m);
    var nv = new Uint8Array(buf, 28 * n + 2 * m, n), cls = new Int8Array(buf, 29 * n + 2 * m, n);
    var L = p.labels, lang = p.lang, features = new Array(n), k = 0;
    for (var h = 0; h < n; h++) {
      var ring = [];
      for (var j = 0; j < nv[h]; j++, k++) {
        ring.push([(lon[h] + off[2 * k + 1] * q) / 1e6, (lat[h] + off[2 * k] * q) / 1e6]);
      }
      ring.push(ring[0]);
      var u = ub[h], c = chg[h] === -32768 ? null : chg[h] / 10;
      var cell = cells[h].toString(16);
      var tip = '<b>' + L.cell + '</b> ' + cell +
        '<br>' + L.count + ': ' + (p.clab ? esc(p.clab[h]) : fmtNum(cnt[h], lang, 0)) +
        '<br>' + L.baseline + ': ' + (p.blab ? esc(p.blab[h]) : fmtNum(base[h], lang, 0)) +
        ' · ' + L.change + ': ' + (c === null ? L.none : fmtPct(c, lang));
      if (p.rate) tip += '<br>' + L.rate + ': ' + fmtNum(p.rate[h], lang, 2);
      tip += '<br>' + L.district + ': ' + (u >= 0 ? esc(p.names[u]) + ' (' + esc(p.ubs[u]) + ')' : L.outside);
      if (u >= 0 && p.emer[u]) tip += '<br><b>' + L.emergency + ':</b> ' + esc(p.emer[u]);
      features[h] = {type: 'Feature', geometry: {type: 'Polygon', coordinates: [ring]},
        properties: {cell: cell, n: cnt[h], b: base[h], chg: c, ubigeo: u >= 0 ? p.ubs[u] : null,
                     fill: cls[h] < 0 ? p.na : p.palette[cls[h]], tooltip: tip}};
    }
    return [{type: 'FeatureCollection', features: features}, String(n), String(p.total)];
  }

  function renderDistricts(geo, emer) {
    if (!geo) return [EMPTY, EMPTY, '', '0'];
    var d = (emer && emer.districts) || {};
    var title = (emer && emer.title) || '';
    var fill = [], outline = [], declared = [];
    geo.features.forEach(function (f) {
      var ub = f.properties.ubigeo, e = d[ub];
      var props = Object.assign({}, f.properties, {emergency: !!e});
      props.tooltip = '<b>' + esc(f.properties.name) + '</b> (' + esc(ub) + ')' +
        (e ? '<br><b>' + esc(title) + ':</b> ' + esc(e.label) : '');
      if (e) { props.decree = e.decree; props.start = e.start; props.end = e.end; declared.push(ub); }
      var g = {type: 'Feature', geometry: f.geometry, properties: props};
      fill.push(g);
      if (e) outline.push(g);
    });
    return [{type: 'FeatureCollection', features: fill}, {type: 'FeatureCollection', features: outline},
            declared.sort().join(' '), String(fill.length)];
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    hexwatch: {decodeHexes: decodeHexes, renderDistricts: renderDistricts}
  });
  window.hexwatch = {
    hexStyle: function (f) {
      return {fillColor: f.properties.fill, fillOpacity: 0.75, color: '#555', weight: 0.3, className: 'hw-hex'};
    },
    districtStyle: function (f) {
      var ub = f.properties.ubigeo;
      if (f.properties.emergency) {
        return {color: '#b2182b', weight: 2, fillColor: '#b2182b', fillOpacity: 0.10,
                className: 'hw-district hw-d-' + ub + ' hw-emergency'};
      }
      return {color: '#666', weight: 1, fillColor: '#ffffff', fillOpacity: 0.01, className: 'hw-district hw-d-' + ub};
    },
    outlineStyle: function (f) {
      return {color: '#b2182b', weight: 3, dashArray: '6 4', fill: false,
              className: 'hw-emergency-outline hw-d-' + f.properties.ubigeo + ' hw-emergency'};
    }
  };
  window.dashAgGridFunctions = Object.assign({}, window.dashAgGridFunctions, {
    hexwatchFmt: function (v, lang, d) { return v === null || v === undefined ? '' : fmtNum(v, lang, d); },
    hexwatchPct: function (v, lang) { return v === null || v === undefined ? '—' : fmtPct(v, lang); }
  });
})();
