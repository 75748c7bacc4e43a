/* The district-month choropleth (dashboard/pages/map/counts_layer.py): each feature carries its
 * colour in properties.fill; classNames hw-counts-district hw-c-<ubigeo> are the marks tests read. */
window.hexwatchCounts = {
  style: function (f) {
    return {fillColor: f.properties.fill, fillOpacity: 0.7, color: '#777', weight: 0.6,
            className: 'hw-counts-district hw-c-' + f.properties.ubigeo};
  }
};
