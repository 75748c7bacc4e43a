/* Styles of the hot-spot map (dashboard/pages/hotspots): a hexagon's colour comes from
 * its pattern; its classes (hw-hs, hw-hs-<code>) are what the browser tests read. */
(function () {
  window.hexwatchHotspots = {
    style: function (f) {
      var p = f.properties;
      return {color: '#444', weight: 0.5, fillColor: p.colour, fillOpacity: 0.75,
              className: 'hw-hs hw-hs-' + p.code + (p.censored ? ' hw-hs-censored' : '')};
    },
    declaredStyle: function (f) {
      return {color: '#b2182b', weight: 2.5, dashArray: '6 4', fill: false,
              className: 'hw-hs-declared hw-d-' + f.properties.ubigeo};
    }
  };
})();
