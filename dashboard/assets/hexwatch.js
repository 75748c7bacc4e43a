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

  // --- the URL hash: tab, filters panel, zoom and centre (no server round trip) ---------
  // The query (?from=...&lang=...) is the view and belongs to the server's controller;
  // the hash holds what only the browser needs: #tab=trends&filters=0&z=12&c=-12.05,-77.03
  function readHash() {
    var out = {};
    (window.location.hash || '').replace(/^#/, '').split('&').forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf('=');
      out[decodeURIComponent(i < 0 ? kv : kv.slice(0, i))] = i < 0 ? '' : decodeURIComponent(kv.slice(i + 1));
    });
    return out;
  }
  function writeHash(changes) {
    var h = Object.assign(readHash(), changes), parts = [];
    ['tab', 'filters', 'z', 'c'].forEach(function (k) {
      if (h[k] !== undefined && h[k] !== null && h[k] !== '') parts.push(k + '=' + encodeURIComponent(h[k]).replace(/%2C/g, ','));
    });
    var hash = parts.length ? '#' + parts.join('&') : '';
    if (hash === window.location.hash || (!hash && !window.location.hash)) return;
    // Not history.replaceState: dcc.Location keeps its own copy of the URL and pushes it back
    // (query included) on its next change, dropping a hash it did not see; a hash change
    // through location.replace is seen by it, and replaces the entry instead of adding one.
    window.location.replace(window.location.pathname + window.location.search + hash);
  }
  var shownTab = 'map';  // the tab store's value in the layout
  function applyHash() {
    var h = readHash(), root = document.documentElement;
    var tabs = Array.prototype.slice.call(document.querySelectorAll('.hw-tab'));
    var names = tabs.map(function (a) { return a.getAttribute('data-tab'); });
    var tab = names.indexOf(h.tab) >= 0 ? h.tab : 'map';
    root.setAttribute('data-tab', tab);
    // A hidden tab's callbacks wait for it (dashboard/tabs.py): tell Dash which one is shown.
    if (tab !== shownTab && window.dash_clientside && window.dash_clientside.set_props) {
      shownTab = tab;
      window.dash_clientside.set_props('tab', {data: tab});
    }
    tabs.forEach(function (a) {
      var on = a.getAttribute('data-tab') === tab;
      a.setAttribute('aria-selected', on ? 'true' : 'false');
      a.classList.toggle('hw-tab-on', on);
    });
    document.querySelectorAll('.hw-page-over').forEach(function (p) {
      p.classList.toggle('hw-page-shown', p.getAttribute('data-page') === tab);
    });
    var open = h.filters === undefined ? window.innerWidth >= 900 : h.filters !== '0';
    root.setAttribute('data-filters', open ? 'open' : 'closed');
    var btn = document.getElementById('filters-toggle');
    if (btn) btn.setAttribute('aria-expanded', open ? 'true' : 'false');
  }
  window.addEventListener('hashchange', applyHash);
  document.addEventListener('click', function (ev) {
    var t = ev.target.closest ? ev.target.closest('#filters-toggle, .hw-tab, #login-link') : null;
    if (!t) return;
    if (t.id === 'filters-toggle') {
      var open = document.documentElement.getAttribute('data-filters') !== 'open';
      writeHash({filters: open ? '1' : '0'});
      applyHash();
      window.dispatchEvent(new Event('resize'));  // Leaflet re-measures its container
    } else if (t.id === 'login-link') {
      // Sign-in comes back to this very view, in this language (dashboard/auth.py checks next).
      var lang = new URLSearchParams(window.location.search).get('lang') || document.documentElement.lang || 'es';
      var base = t.getAttribute('href').split('?')[0];
      t.setAttribute('href', base + '?lang=' + encodeURIComponent(lang) + '&next=' +
        encodeURIComponent(window.location.pathname + window.location.search + window.location.hash));
    } else {
      ev.preventDefault();
      writeHash({tab: t.getAttribute('data-tab') === 'map' ? '' : t.getAttribute('data-tab')});
      applyHash();
      window.dispatchEvent(new Event('resize'));  // charts drawn while hidden take their width now
    }
  }, true);
  // The tab bar is rendered by Dash after this script runs: apply the hash once it exists.
  new MutationObserver(function (_, obs) {
    if (document.querySelector('.hw-tab')) { applyHash(); obs.disconnect(); }
  }).observe(document.documentElement, {childList: true, subtree: true});

  var hashViewUsed = false;
  // area-bounds -> map viewport: the hash's zoom and centre on a first load of the URL's
  // area, the area's bounds on every later area change.
  function areaViewport(data) {
    var nu = window.dash_clientside.no_update;
    if (!data || !data.bounds) return nu;
    var h = readHash();
    if (!hashViewUsed && h.z && h.c) {
      var want = new URLSearchParams(window.location.search).get('area') || data.home;
      if (data.area !== want) return nu;  // the layout's default area, about to be replaced
      hashViewUsed = true;
      var c = h.c.split(',').map(Number), z = Number(h.z);
      if (c.length === 2 && c.every(isFinite) && isFinite(z)) return {center: c, zoom: z, transition: 'setView'};
    }
    hashViewUsed = true;
    return {bounds: data.bounds, transition: 'fitBounds'};
  }
  function syncHash(zoom, center) {
    var h = readHash();
    // Until the hash's own view is applied, the map's first position must not overwrite it.
    var pending = !hashViewUsed && h.z && h.c;
    if (!pending && zoom !== undefined && zoom !== null && center) {
      var lat = Array.isArray(center) ? center[0] : center.lat, lng = Array.isArray(center) ? center[1] : center.lng;
      writeHash({z: String(Math.round(zoom * 100) / 100), c: lat.toFixed(5) + ',' + lng.toFixed(5)});
    }
    return window.dash_clientside.no_update;
  }

  // --- basemap: one tile of the first view decides streets or the offline background ---
  function tileUrl(tpl, z, x, y) {
    var sub = 'abc'.charAt((x + y) % 3);
    return tpl.replace('{s}', sub).replace('{z}', z).replace('{x}', x).replace('{y}', y).replace('{r}', '');
  }
  function probeBasemap(cfg) {
    var off = [[], 'offline'];
    if (!cfg || !cfg.url) return Promise.resolve(off);
    var z = 12, lat = cfg.centre[0] * Math.PI / 180, n = Math.pow(2, z);
    var x = Math.floor((cfg.centre[1] + 180) / 360 * n);
    var y = Math.floor((1 - Math.log(Math.tan(lat) + 1 / Math.cos(lat)) / Math.PI) / 2 * n);
    return new Promise(function (resolve) {
      var img = new Image(), done = false;
      function finish(ok) {
        if (done) return;
        done = true;
        resolve(ok ? [[{namespace: 'dash_leaflet', type: 'TileLayer',
                         props: {url: cfg.url, attribution: cfg.attribution, maxZoom: 19, id: cfg.tile_id || 'basemap-tiles'}}],
                      'streets'] : off);
      }
      img.onload = function () { finish(img.naturalWidth > 0); };
      img.onerror = function () { finish(false); };
      setTimeout(function () { finish(false); }, cfg.timeout_ms || 4000);
      img.src = tileUrl(cfg.url, z, x, y);
    });
  }

  // Another map's basemap layer alone (the hot-spot map): the same probe, no status.
  function probeBasemapLayer(cfg) {
    return probeBasemap(cfg).then(function (r) { return r[0]; });
  }

  // --- accessibility repairs of Dash 4's own controls (axe-core, issue 16.8) ------------
  // Dash's radio lists are role=listbox with focusable radios inside (nested interactive),
  // its dropdowns focus an aria-hidden input, its date range wrapper carries button-only
  // ARIA and points aria-labelledby at ids that do not exist, its slider thumb has no name.
  // Each control gets the name of its visible label; the page gets its language.
  function controlName(el) {
    var box = el.closest('.hw-control, .hw-lang');
    var lab = box && box.querySelector('.hw-label, summary');
    return lab ? lab.textContent.trim() : '';
  }
  function setAttr(el, k, v) { if (el.getAttribute(k) !== v) el.setAttribute(k, v); }
  function dropAttr(el, k) { if (el.hasAttribute(k)) el.removeAttribute(k); }
  function repairA11y() {
    var lang = new URLSearchParams(window.location.search).get('lang') === 'en' ? 'en' : 'es';
    setAttr(document.documentElement, 'lang', lang);
    document.querySelectorAll('.dash-radioitems, .dash-checklist').forEach(function (g) {
      setAttr(g, 'role', g.classList.contains('dash-radioitems') ? 'radiogroup' : 'group');
      var name = controlName(g);
      if (name) setAttr(g, 'aria-label', name);
      g.querySelectorAll('.dash-options-list-option').forEach(function (o) {
        dropAttr(o, 'role'); dropAttr(o, 'aria-selected');
      });
    });
    document.querySelectorAll('.dash-dropdown-focus-target').forEach(function (i) {
      dropAttr(i, 'aria-hidden');
      var name = controlName(i);
      if (name) setAttr(i, 'aria-label', name);
    });
    document.querySelectorAll('.dash-datepicker-input-wrapper').forEach(function (w) {
      ['aria-expanded', 'aria-haspopup', 'aria-disabled', 'type', 'aria-labelledby'].forEach(function (k) { dropAttr(w, k); });
      setAttr(w, 'role', 'group');
      var name = controlName(w);
      if (name) setAttr(w, 'aria-label', name);
    });
    document.querySelectorAll('.dash-slider-thumb').forEach(function (t) {
      var name = controlName(t), week = document.getElementById('week-label');
      if (name) setAttr(t, 'aria-label', name + (week ? ': ' + week.textContent : ''));
    });
  }
  var a11yQueued = false;
  new MutationObserver(function () {
    if (a11yQueued) return;
    a11yQueued = true;
    window.requestAnimationFrame(function () { a11yQueued = false; repairA11y(); });
  }).observe(document.documentElement, {childList: true, subtree: true, attributes: true,
                                         attributeFilter: ['role', 'aria-hidden', 'aria-expanded', 'aria-selected', 'class']});

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    hexwatch: {decodeHexes: decodeHexes, renderDistricts: renderDistricts, areaViewport: areaViewport,
               syncHash: syncHash, probeBasemap: probeBasemap,
               probeBasemapLayer: probeBasemapLayer}
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
    pointToLayer: function (feature, latlng) {
      // In the points pane (above hexes and outlines), so a point takes the hover and shows its tooltip.
      return L.circleMarker(latlng, {radius: 5, color: '#111', weight: 1.5, fillColor: '#ffffff', fillOpacity: 0.95,
                                     pane: 'points', className: 'hw-point'});
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
