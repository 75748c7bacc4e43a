/* hexwatch sharing and officials' layers (see dashboard/sharing.py and dashboard/access.py).
 * - toggleDialog: opens the share dialog on "Share", closes it on "Close".
 * - pointToLayer: officials' incident points as small circles (no marker images to fetch).
 */
(function () {
  function toggleDialog(openClicks, closeClicks) {
    var ctx = window.dash_clientside.callback_context;
    var fired = ctx && ctx.triggered && ctx.triggered.length ? ctx.triggered[0].prop_id : '';
    return fired.indexOf('share-open') === 0 && openClicks ? 'hw-dialog hw-dialog-open' : 'hw-dialog';
  }
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    hexwatchShare: {toggleDialog: toggleDialog}
  });
  window.hexwatchShare = {
    pointToLayer: function (feature, latlng) {
      return L.circleMarker(latlng, {radius: 4, color: '#222', weight: 1, fillColor: '#ffffff', fillOpacity: 0.9,
                                     className: 'hw-point'});
    }
  };
})();
