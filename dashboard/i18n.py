"""Spanish (default) and English: every label, number and date the dashboard shows.

Numbers and dates are formatted here, in Python, so that server-rendered text, chart
ticks and tooltips agree; the browser receives finished strings, except hex and table
values, which ``assets/hexwatch.js`` formats with the same rules.

>>> fmt_num(1234.5, "es", 1), fmt_num(1234.5, "en", 1)
('1.234,5', '1,234.5')
>>> import datetime as dt
>>> fmt_date(dt.date(2023, 10, 15), "es"), fmt_date(dt.date(2023, 10, 15), "en")
('15 oct. 2023', 'Oct 15, 2023')
>>> t("filters.category", "en")
'Category'
"""

from __future__ import annotations

import datetime as dt
import math
import os
import unicodedata
from functools import lru_cache
from pathlib import Path

LANGS = ("es", "en")
DEFAULT_LANG = "es"

_MONTHS = {
    "es": ["ene.", "feb.", "mar.", "abr.", "may.", "jun.", "jul.", "ago.", "sep.", "oct.", "nov.", "dic."],
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
}
_MONTHS_LONG = {
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
}
_DAYS = {"es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
         "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]}

# key -> (es, en). Keys are dotted by where they appear.
_T: dict[str, tuple[str, str]] = {
    "app.title": ("hexwatch: incidentes y estados de emergencia", "hexwatch: incidents and states of emergency"),
    "app.subtitle": ("Incidentes policiales en hexágonos H3 y los distritos en estado de emergencia",
                     "Police incidents in H3 hexagons and the districts under a state of emergency"),
    "banner.synthetic": ("DATOS SINTÉTICOS: generados para demostración, no son incidentes reales",
                         "SYNTHETIC DATA: generated for demonstration, not real incidents"),
    "lang.label": ("Idioma", "Language"),
    "filters.title": ("Filtros", "Filters"),
    "filters.dates": ("Periodo", "Period"),
    "filters.week": ("Semana", "Week"),
    "filters.week_of": ("Semana del", "Week of"),
    "filters.play": ("▶ Reproducir", "▶ Play"),
    "filters.pause": ("⏸ Pausa", "⏸ Pause"),
    "filters.category": ("Categoría", "Category"),
    "filters.category_all": ("Todas las categorías", "All categories"),
    "dropdown.select_all": ("Seleccionar todo", "Select all"),
    "dropdown.deselect_all": ("Quitar todo", "Deselect all"),
    "dropdown.selected_count": ("{num_selected} elegidas", "{num_selected} selected"),
    "dropdown.search": ("Buscar", "Search"),
    "dropdown.clear_search": ("Borrar búsqueda", "Clear search"),
    "dropdown.clear_selection": ("Borrar selección", "Clear selection"),
    "dropdown.no_options_found": ("Sin opciones", "No options found"),
    "filters.spell": ("Declaratoria de emergencia", "Emergency declaration"),
    "filters.spell_none": ("Ninguna", "None"),
    "filters.area": ("Zona", "Area"),
    "area.lima_callao": ("Lima + Callao", "Lima + Callao"),
    "area.sullana": ("Sullana", "Sullana"),
    "area.all": ("Todas", "All"),
    "filters.metric": ("Color de los hexágonos", "Hexagon colour"),
    "metric.count": ("Incidentes", "Incidents"),
    "metric.rate": ("Incidentes por km²", "Incidents per km²"),
    "metric.change": ("Cambio vs. línea de base", "Change vs. baseline"),
    "filters.resolution": ("Resolución H3", "H3 resolution"),
    "res.auto": ("Automática (según zoom)", "Automatic (by zoom)"),
    "filters.mode": ("El mapa muestra", "The map shows"),
    "mode.range": ("Todo el periodo", "The whole period"),
    "mode.week": ("La semana elegida", "The selected week"),
    "filters.baseline": ("Línea de base", "Baseline"),
    "filters.baseline_hint": ("Por defecto, el periodo de igual duración inmediatamente anterior.",
                              "By default, the equally long period just before."),
    "map.title": ("Mapa", "Map"),
    "map.legend_count": ("Incidentes en el periodo", "Incidents in the period"),
    "map.legend_rate": ("Incidentes por km² en el periodo", "Incidents per km² in the period"),
    "map.legend_change": ("Cambio de la tasa diaria vs. línea de base (%)", "Change of the daily rate vs. baseline (%)"),
    "map.legend_na": ("sin dato (línea de base < {k} incidentes)", "no value (baseline < {k} incidents)"),
    "map.legend_emergency": ("Distrito en estado de emergencia el {day}", "District under emergency on {day}"),
    "map.capped": ("Se muestran las {shown} celdas con más incidentes de {total}; acerque el mapa para ver el resto.",
                   "Showing the {shown} busiest of {total} cells; zoom in to see the rest."),
    "map.summary": ("{n} incidentes en {cells} celdas (resolución {res}), {start} – {end}",
                    "{n} incidents in {cells} cells (resolution {res}), {start} – {end}"),
    "map.emergency_on": ("Emergencia el {day}: {n} distritos", "Emergency on {day}: {n} districts"),
    "tip.cell": ("Celda", "Cell"),
    "tip.count": ("Incidentes", "Incidents"),
    "tip.baseline": ("Línea de base", "Baseline"),
    "tip.change": ("Cambio", "Change"),
    "tip.rate": ("Por km²", "Per km²"),
    "tip.district": ("Distrito", "District"),
    "tip.emergency": ("Emergencia", "Emergency"),
    "tip.none": ("sin dato", "no value"),
    "tip.outside": ("fuera de los distritos", "outside the districts"),
    "trends.title": ("Tendencias", "Trends"),
    "trends.series_title": ("Incidentes semanales: distritos declarados vs. comparación (índice, pre-periodo = 100)",
                            "Weekly incidents: declared vs. comparison districts (index, pre-period = 100)"),
    "trends.series_raw_title": ("Incidentes semanales", "Weekly incidents"),
    "trends.pick_spell": ("Elija una declaratoria para comparar distritos declarados con los demás de la zona.",
                          "Pick a declaration to compare declared districts with the others in the area."),
    "trends.group_declared": ("Declarados", "Declared"),
    "trends.group_comparison": ("Comparación", "Comparison"),
    "trends.group_all": ("Todos los distritos de la zona", "All districts in the area"),
    "trends.declared_band": ("Periodo declarado", "Declared period"),
    "trends.week_axis": ("Semana (desde el lunes)", "Week (from Monday)"),
    "trends.index_axis": ("Índice (pre-periodo = 100)", "Index (pre-period = 100)"),
    "trends.count_axis": ("Incidentes por semana", "Incidents per week"),
    "trends.note": ("La comparación son los distritos de la zona que la declaratoria no cubrió. Es una descripción, "
                    "no una estimación causal: vea el panel «¿Funcionó?».",
                    "Comparison: the districts of the area the declaration did not cover. This describes, it does "
                    "not estimate an effect: see the “Did it work?” panel."),
    "table.title": ("Por distrito: línea de base vs. periodo", "By district: baseline vs. period"),
    "table.download": ("Descargar CSV", "Download CSV"),
    "col.ubigeo": ("Ubigeo", "Ubigeo"),
    "col.name": ("Distrito", "District"),
    "col.declared": ("Declarado", "Declared"),
    "col.n_baseline": ("Línea de base", "Baseline"),
    "col.n": ("Periodo", "Period"),
    "col.change_pct": ("Cambio %", "Change %"),
    "yes": ("sí", "yes"),
    "no": ("no", "no"),
    "panel.title": ("Distrito", "District"),
    "panel.close": ("Cerrar", "Close"),
    "panel.status_on": ("En estado de emergencia el {day}: {decree} ({start} – {end})",
                        "Under a state of emergency on {day}: {decree} ({start} – {end})"),
    "panel.status_off": ("Sin estado de emergencia el {day}", "Not under a state of emergency on {day}"),
    "panel.counts": ("{n} incidentes en el periodo; {b} en la línea de base ({chg})",
                     "{n} incidents in the period; {b} in the baseline ({chg})"),
    "panel.spells": ("Declaratorias que cubrieron este distrito", "Declarations that covered this district"),
    "panel.hint": ("Haga clic en un distrito o hexágono del mapa para ver su detalle.",
                   "Click a district or hexagon on the map to see its detail."),
    "about.title": ("Sobre los datos", "About the data"),
    "about.dataset": ("Conjunto de datos", "Dataset"),
    "about.coverage": ("Cobertura", "Coverage"),
    "about.incidents": ("Incidentes", "Incidents"),
    "about.gaps": ("Periodos de 7 días o más sin ningún incidente", "Runs of 7 or more days without any incident"),
    "about.no_gaps": ("ninguno", "none"),
    "about.ingest": ("Informe de ingesta", "Ingest report"),
    "about.accepted": ("Filas aceptadas", "Accepted rows"),
    "about.rejected": ("Filas rechazadas", "Rejected rows"),
    "about.input": ("Filas leídas", "Rows read"),
    "about.outside": ("Aceptadas fuera de todo distrito", "Accepted outside every district"),
    "about.source": ("Archivo", "File"),
    "about.reason": ("Motivo", "Reason"),
    "about.rows": ("Filas", "Rows"),
    "about.no_report": ("Este almacén no tiene informe de ingesta.", "This store has no ingest report."),
    "about.version": ("Versión del almacén", "Store version"),
    "about.public_note": ("Los totales públicos no cuentan las categorías sensibles (violencia sexual, familiar y "
                          "similares); las filas leídas y aceptadas solo se muestran a funcionarios.",
                          "Public totals leave out sensitive categories (sexual and family violence and the like); "
                          "rows read and accepted are shown to officials only."),
    "about.synthetic_note": ("Los datos son sintéticos: los efectos de las declaratorias fueron inyectados a propósito.",
                             "The data is synthetic: the declarations' effects were injected on purpose."),
    # -- "¿Funcionó?" panel (dashboard/pages/impact) --
    "impact.title": ("¿Funcionó?", "Did it work?"),
    "impact.lazy": ("Al abrir el panel se estima el efecto de la declaratoria elegida (puede tardar unos segundos).",
                    "Opening the panel estimates the chosen declaration's effect (this can take a few seconds)."),
    "impact.source": ("Datos", "Data"),
    "impact.source_points": ("Incidentes georreferenciados (por semana)", "Geolocated incidents (weekly)"),
    "impact.source_sidpol": ("SIDPOL distrito-mes (por mes)", "SIDPOL district-month (monthly)"),
    "impact.spell": ("Declaratoria {spell} ({start} – {end}): {n} distritos", "Declaration {spell} ({start} – {end}): {n} districts"),
    "impact.defaulted": ("No hay declaratoria elegida: se muestra la primera de la zona. Elija otra en el filtro «Declaratoria de emergencia».",
                         "No declaration chosen: showing the first one in the area. Pick another in the “Emergency declaration” filter."),
    "impact.no_spell": ("Ninguna declaratoria de la zona empieza dentro del periodo de los datos.",
                        "No declaration in the area starts within the data's period."),
    "impact.categories": ("Categorías: {cats}", "Categories: {cats}"),
    "impact.headline": ("Efecto estimado en los distritos declarados (diferencias en diferencias)",
                        "Estimated effect in the declared districts (difference-in-differences)"),
    "impact.ci": ("{effect} (IC 95 %: {low} a {high})", "{effect} (95% CI: {low} to {high})"),
    "impact.not_estimable": ("no estimable", "not estimable"),
    "impact.design": ("{treated} distritos declarados frente a {comparison} de comparación; {ring} vecinos en el anillo. "
                      "Antes: {pre_start} – {pre_end}; después: {post_start} – {post_end}.",
                      "{treated} declared districts against {comparison} comparison districts; {ring} neighbours in the ring. "
                      "Before: {pre_start} – {pre_end}; after: {post_start} – {post_end}."),
    "impact.pre_trend": ("Prueba conjunta de tendencias previas: {p}", "Joint pre-trend test: {p}"),
    "impact.pre_period": ("antes", "before"),
    "impact.placebo_p": ("Efecto medio {effect}; {p} por placebos en el espacio ({n} placebos)",
                         "Mean effect {effect}; {p} from in-space placebos ({n} placebos)"),
    "impact.ring_effect": ("Efecto en el anillo de vecinos: {effect}", "Effect in the ring of neighbours: {effect}"),
    "impact.wdd": ("Prueba WDD (Wheeler y Ratcliffe, 2018): {total} incidentes por {unit} (IC 95 %: {low} a {high}), z = {z}, {p}. "
                   "Local: {local}; desplazamiento: {displacement}.",
                   "WDD test (Wheeler & Ratcliffe, 2018): {total} incidents per {unit} (95% CI: {low} to {high}), z = {z}, {p}. "
                   "Local: {local}; displacement: {displacement}."),
    "impact.naive_title": ("Cifra ingenua: antes/después, solo para contrastar", "Naive figure: before/after, for contrast only"),
    "impact.naive_counts": ("{before} incidentes en {k} {unit} antes → {after} en {k} después: {effect}",
                            "{before} incidents in {k} {unit} before → {after} in {k} after: {effect}"),
    "impact.unit_week": ("semana", "week"),
    "impact.unit_month": ("mes", "month"),
    "impact.units_week": ("semanas", "weeks"),
    "impact.units_month": ("meses", "months"),
    "impact.warnings": ("Advertencias de este análisis", "Warnings for this analysis"),
    "impact.caveats": ("Tenga siempre en cuenta", "Always keep in mind"),
    "impact.caveat_reported": ("Solo se cuentan los delitos denunciados a la policía, una fracción de los que ocurren; "
                               "una declaratoria también puede cambiar cuánto se denuncia.",
                               "Only crimes reported to the police are counted, a fraction of those that happen; "
                               "a declaration can also change how much is reported."),
    "impact.caveat_overlap": ("Las declaratorias se superponen y se prorrogan: Lima ha sido declarada una y otra vez, así que "
                              "los distritos de comparación también pueden haber estado bajo emergencia en otros momentos.",
                              "Declarations overlap and are extended: Lima has been declared again and again, so comparison "
                              "districts may have been under emergency at other times too."),
    "impact.caveat_causal": ("Un efecto estimado no prueba que la declaratoria lo causó: otras cosas cambiaron al mismo tiempo.",
                             "An estimated effect does not prove the declaration caused it: other things changed at the same time."),
    "impact.download": ("Descargar JSON", "Download JSON"),
    "error.title": ("No se pudo mostrar esta vista", "This view could not be shown"),
    # access, sharing, export (dashboard/access.py, auth.py, sharing.py)
    "auth.title": ("Acceso para funcionarios", "Officials' sign-in"),
    "auth.hint": ("Los funcionarios ven el detalle completo: conteos exactos, incidentes individuales y "
                  "exportaciones. Sin iniciar sesión se ve el mapa público.",
                  "Officials see full detail: exact counts, individual incidents and exports. Without signing in "
                  "you see the public map."),
    "auth.username": ("Usuario", "User name"),
    "auth.password": ("Contraseña", "Password"),
    "auth.submit": ("Iniciar sesión", "Sign in"),
    "auth.failed": ("Usuario o contraseña incorrectos.", "Wrong user name or password."),
    "auth.expired": ("El formulario caducó; vuelva a intentarlo.", "The form expired; please try again."),
    "auth.no_users": ("Este servidor no tiene cuentas de funcionarios configuradas (vea docs/access.md).",
                      "This server has no officials' accounts configured (see docs/access.md)."),
    "auth.back": ("Volver al mapa", "Back to the map"),
    "auth.logout": ("Cerrar sesión", "Sign out"),
    "auth.login_link": ("Acceso para funcionarios", "Officials' sign-in"),
    "auth.public_mode": ("Vista pública", "Public view"),
    "auth.role_official": ("funcionario", "official"),
    "map.summary_public": ("Al menos {n} incidentes en {cells} celdas (resolución {res}), {start} – {end}. Vista "
                           "pública: los conteos menores que {k} se muestran como «< {k}».",
                           "At least {n} incidents in {cells} cells (resolution {res}), {start} – {end}. Public view: "
                           "counts below {k} are shown as “< {k}”."),
    "map.points": ("{shown} de {n} incidentes individuales en la vista", "{shown} of {n} individual incidents in view"),
    "export.title": ("Descargar esta vista:", "Download this view:"),
    "share.button": ("Compartir / insertar", "Share / embed"),
    "share.title": ("Insertar este mapa en otra página", "Embed this map in another page"),
    "share.hint": ("Copie este código en su página web. El mapa insertado es siempre público: hexágonos de "
                   "resolución 8 como máximo, conteos pequeños ocultos y sin categorías sensibles.",
                   "Paste this code into your web page. The embedded map is always public: hexagons of resolution 8 "
                   "at most, small counts hidden and no sensitive categories."),
    "share.copy": ("Copiar el código", "Copy the code"),
    "share.open": ("Abrir el mapa insertable", "Open the embeddable map"),
    "share.close": ("Cerrar", "Close"),
    # -- security / privacy (issue 14): the public "about the data" panel ----------------------------
    "about.public_coverage": ("Meses publicados", "Months published"),
    "about.public_incidents": ("Incidentes publicados (rango)", "Incidents published (range)"),
    "about.public_extent_note": ("En la vista pública, los meses y el total se calculan solo con la cuadrícula publicada "
                                 "(las categorías públicas, con los conteos menores que k como rangos); las fechas "
                                 "exactas, los periodos sin datos y el total exacto solo se muestran a funcionarios.",
                                 "In the public view, the months and the total come from the published grid alone "
                                 "(public categories, counts below k as ranges); exact dates, periods without data "
                                 "and the exact total are shown to officials only."),
}

# --- map first, tabs, basemap, legend, accessibility (issue 16: anycity-dash) ------------
_T.update({
    "tab.nav": ("Secciones", "Sections"),
    "tab.map": ("Mapa", "Map"),
    "tab.trends": ("Tendencias", "Trends"),
    "tab.impact": ("¿Funcionó?", "Did it work?"),
    "tab.about": ("Acerca de", "About"),
    "tab.hotspots": ("Puntos calientes", "Hot spots"),
    "tab.declarations": ("Declaratorias", "Declarations"),
    "filters.toggle": ("Mostrar u ocultar los filtros", "Show or hide the filters"),
    "a11y.skip": ("Saltar al mapa", "Skip to the map"),
    "basemap.streets": ("Mapa base: calles", "Basemap: streets"),
    "basemap.offline": ("Sin mapa base (servidor de mosaicos no disponible): fondo simple",
                        "No basemap (tile server unreachable): plain background"),
    "basemap.probing": ("Buscando el mapa base…", "Looking for the basemap…"),
    "trends.public_note": ("Vista pública: totales de la cuadrícula publicada, por mes completo; cada celda con "
                           "menos de k incidentes cuenta entre 1 y k − 1, por eso cada total es un rango (banda).",
                           "Public view: totals of the published grid, by whole month; each cell with fewer than k "
                           "incidents counts as 1 to k − 1, so each total is a range (the band)."),
    "trends.public_title": ("Incidentes por mes (rango publicado)", "Incidents per month (published range)"),
    "trends.public_axis": ("Incidentes por mes", "Incidents per month"),
    "trends.public_month_axis": ("Mes", "Month"),
    "trends.partial_week": (": semana parcial, {days} días, a ritmo de 7 días", ": partial week, {days} days, at a 7-day pace"),
    "map.legend_own": ("Clases de esta vista (las fijas del periodo completo se están calculando)",
                       "Classes of this view (the whole period's fixed classes are being computed)"),
    "map.legend_any": ("cualquier valor", "any value"),
    "map.legend_rise": ("sube (según los rangos publicados)", "rise (from the published ranges)"),
    "map.legend_fall": ("baja (según los rangos publicados)", "fall (from the published ranges)"),
    "map.legend_uncertain": ("incierto: el rango incluye «sin cambio»", "uncertain: the range includes no change"),
    "map.legend_at_least": ("(al menos)", "(at least)"),
    "map.legend_hist": ("{n} hexágonos en esta clase", "{n} hexagons in this class"),
    "map.legend_fixed": ("Clases fijas: cuantiles de todo el periodo de los datos",
                         "Fixed classes: quantiles of the whole data period"),
    "map.legend_public_range": ("Vista pública: clase según el mínimo del rango publicado",
                                "Public view: class from the lower end of the published range"),
})


# --- real district-month counts beside synthetic points (geo.datasets layers) ---------------
_T.update({
    "banner.mixed": ("Distritos y series mensuales: DATOS REALES (denuncias SIDPOL, MININTER) · "
                     "Hexágonos y series semanales: DATOS SINTÉTICOS de demostración, no son incidentes reales",
                     "Districts and monthly series: REAL DATA (SIDPOL police reports, MININTER) · "
                     "Hexes and weekly series: SYNTHETIC demo data, not real incidents"),
    "banner.points_synthetic": ("Hexágonos y series semanales: DATOS SINTÉTICOS de demostración, no son incidentes reales",
                                "Hexes and weekly series: SYNTHETIC demo data, not real incidents"),
    "counts.title": ("Denuncias registradas por distrito (datos reales)", "Reported crimes by district (real data)"),
    "counts.layer": ("Capa del mapa", "Map layer"),
    "counts.panel": ("Denuncias reales por distrito", "Real reports by district"),
    "counts.layer_districts": ("Distritos: denuncias reales (SIDPOL)", "Districts: real reports (SIDPOL)"),
    "counts.layer_hexes": ("Hexágonos: datos sintéticos", "Hexes: synthetic data"),
    "counts.layer_both": ("Ambas", "Both"),
    "counts.layer_districts_synthetic": ("Distritos: conteos sintéticos", "Districts: synthetic counts"),
    "counts.real": ("DATOS REALES", "REAL DATA"),
    "counts.synthetic": ("DATOS SINTÉTICOS", "SYNTHETIC DATA"),
    "counts.summary": ("{label}: {n} denuncias en {districts} distritos, {first} – {last} (meses completos; "
                       "los datos son mensuales)",
                       "{label}: {n} reports in {districts} districts, {first} – {last} (whole months; "
                       "the data are monthly)"),
    "counts.none": ("{label}: los datos no cubren {first} – {last} (cubren {start} – {end})",
                    "{label}: the data do not cover {first} – {last} (they cover {start} – {end})"),
    "counts.unmatched": ("Categorías sin equivalente en estos datos: {cats}", "Categories with no match in these data: {cats}"),
    "counts.public_note": ("Sin las categorías sensibles ({cats}).", "Sensitive categories left out ({cats})."),
    "counts.top": ("Distritos con más denuncias en el periodo", "Districts with the most reports in the period"),
    "counts.col_district": ("Distrito", "District"),
    "counts.col_province": ("Provincia", "Province"),
    "counts.col_n": ("Denuncias", "Reports"),
    "counts.series_title": ("Denuncias por mes (datos reales)", "Reports per month (real data)"),
    "counts.series_declared": ("Declarados ({n})", "Declared ({n})"),
    "counts.series_rest": ("Resto del área ({n})", "Rest of the area ({n})"),
    "counts.series_area": ("Área ({n} distritos)", "Area ({n} districts)"),
    "counts.month_axis": ("Mes", "Month"),
    "counts.count_axis": ("Denuncias por mes", "Reports per month"),
    "counts.legend": ("Denuncias (reales)", "Reports (real)"),
    "counts.tip": ("{name}: {n} denuncias", "{name}: {n} reports"),
    "counts.caveat": ("Son denuncias registradas por la policía, no delitos: muchos delitos no se denuncian.",
                      "These are reports to the police, not crimes: many crimes are never reported."),
    "counts.licence": ("Licencia {licence}", "Licence {licence}"),
    "about.layers": ("Capas de datos", "Data layers"),
    "about.layer_points": ("Hexágonos y series semanales (puntos)", "Hexes and weekly series (points)"),
    "about.layer_district_month": ("Distritos y series mensuales (conteos por distrito y mes)",
                                   "Districts and monthly series (district-month counts)"),
})


# -- per-area answers and the all-declarations page (the areas work) --------------------------
_T.update({
    "impact.headline_area": ("{area}: efecto estimado en los distritos declarados ({method}, análisis principal)",
                             "{area}: estimated effect in the declared districts ({method}, primary analysis)"),
    "impact.areas": ("Áreas de esta declaratoria (cada una con su propia respuesta): {areas}",
                     "Areas of this declaration (each with its own answer): {areas}"),
    "impact.robustness": ("comprobación de robustez", "robustness check"),
    "impact.primary_rule": ("{rule}", "{rule}"),
    "impact.other_area": ("{area}: {sentence}", "{area}: {sentence}"),
    "impact.public_note": ("Vista pública: el veredicto y cada estimación con su intervalo, calculados solo con las "
                           "categorías que la salida pública puede contar; sin conteos ni series por distrito.",
                           "Public view: the verdict and every estimate with its interval, computed on the categories "
                           "public output may count only; no counts or district series."),
    "impact.pooled": ("Todas las áreas juntas (cifra secundaria)", "All areas pooled (secondary figure)"),
    "impact.source_chosen": ("Fuente de los datos: {note}", "Data source: {note}"),
    "impact.report": ("Informe imprimible (HTML)", "Printable report (HTML)"),
    "decl.title": ("Todas las declaratorias", "All declarations"),
    "decl.intro": ("Cada declaratoria del registro que cubren los datos, por área: una fila por declaratoria y área, con el "
                   "intervalo de cada estimación y la frase del análisis principal.",
                   "Every declaration of the registry the data cover, per area: one row per declaration and area, with "
                   "each estimate's interval and the primary analysis's sentence."),
    "decl.open": ("Mostrar la tabla (se calcula una vez por versión de los datos)",
                  "Show the table (computed once per data version)"),
    "decl.col_spell": ("Declaratoria", "Declaration"),
    "decl.col_area": ("Área", "Area"),
    "decl.col_start": ("Inicio", "Start"),
    "decl.col_n": ("Distritos", "Districts"),
    "decl.col_primary": ("Principal", "Primary"),
    "decl.col_2x2": ("2x2 descriptivo", "Descriptive 2x2"),
    "decl.forest": ("Efecto estimado y su IC 95 % por declaratoria y área", "Estimated effect and 95% CI by declaration and area"),
    "decl.effect_axis": ("Cambio relativo (%)", "Relative change (%)"),
    "decl.skipped": ("No evaluadas: {items}", "Not evaluated: {items}"),
    "decl.none": ("Ninguna declaratoria del registro cae dentro de los datos.", "No declaration of the registry falls within the data."),
})


def t(key: str, lang: str, **fields) -> str:
    """The text for ``key`` in ``lang`` (falls back to Spanish), with ``{fields}`` filled in."""
    es, en = _T[key]
    text = en if lang == "en" else es
    return text.format(**fields) if fields else text


def dropdown_labels(lang: str) -> dict[str, str]:
    """The texts ``dcc.Dropdown`` draws itself (search box, select all, ...)."""
    # ``{num_selected}`` is filled by the dropdown, so these are not formatted here.
    return {k.split(".", 1)[1]: (_T[k][1] if lang == "en" else _T[k][0]) for k in _T if k.startswith("dropdown.")}


#: The category label table: one row per category code as the data write it, with its
#: Spanish and English names (data, not code: add rows for another city's vocabulary).
CATEGORY_LABELS = next((p for p in (Path(__file__).resolve().parents[1] / "data" / "category_labels.csv",
                                     Path(__file__).resolve().parent / "_data" / "category_labels.csv") if p.exists()),
                       Path(__file__).resolve().parents[1] / "data" / "category_labels.csv")


def _fold(code: str) -> str:
    """Upper case without accents or repeated spaces: "Extorsión" and "EXTORSION" are one code."""
    text = unicodedata.normalize("NFKD", str(code))
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).upper().split())


@lru_cache(maxsize=4)
def _category_table(path: str) -> dict[str, tuple[str, str]]:
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as f:
            return {_fold(r["code"]): (r["es"], r["en"]) for r in csv.DictReader(f) if r.get("code")}
    except FileNotFoundError:
        return {}


def category_label(code: str, lang: str, table: str | os.PathLike | None = None) -> str:
    """The name of category ``code`` in ``lang`` from the label table; a code the table
    does not know is shown as written in the data.

    >>> category_label("MICROCOMERCIALIZACION DE DROGAS", "en"), category_label("Extorsión", "es")
    ('Small-scale drug dealing', 'Extorsión')
    >>> category_label("RIÑA", "en")
    'RIÑA'
    """
    es_en = _category_table(str(table or CATEGORY_LABELS)).get(_fold(code))
    return (es_en[1] if lang == "en" else es_en[0]) if es_en else str(code)


#: AG Grid's own texts (pagination, filter menus, empty table) in Spanish; English is AG Grid's default.
_GRID_ES = {
    "page": "Página", "to": "a", "of": "de", "more": "más", "next": "Siguiente", "previous": "Anterior",
    "first": "Primera", "last": "Última", "pageSizeSelectorLabel": "Filas por página:",
    "ariaPageSizeSelectorLabel": "Filas por página", "firstPage": "Primera página", "lastPage": "Última página",
    "nextPage": "Página siguiente", "previousPage": "Página anterior",
    "noRowsToShow": "No hay filas", "loadingOoo": "Cargando…", "filterOoo": "Filtrar…", "searchOoo": "Buscar…",
    "equals": "Igual a", "notEqual": "Distinto de", "lessThan": "Menor que", "greaterThan": "Mayor que",
    "lessThanOrEqual": "Menor o igual que", "greaterThanOrEqual": "Mayor o igual que", "inRange": "Entre",
    "inRangeStart": "Desde", "inRangeEnd": "Hasta", "contains": "Contiene", "notContains": "No contiene",
    "startsWith": "Empieza por", "endsWith": "Termina en", "blank": "Vacío", "notBlank": "No vacío",
    "andCondition": "Y", "orCondition": "O", "applyFilter": "Aplicar", "resetFilter": "Restablecer",
    "clearFilter": "Borrar", "cancelFilter": "Cancelar", "selectAll": "(Seleccionar todo)",
    "ariaFilterInput": "Filtro", "ariaFilterValue": "Valor del filtro", "ariaFilteringOperator": "Operador del filtro",
    "ariaColumn": "Columna", "ariaRowPage": "Filas", "sortAscending": "Orden ascendente",
    "sortDescending": "Orden descendente", "columnFilter": "Filtro de columna",
}


_GRID_EN = {
    "page": "Page", "to": "to", "of": "of", "more": "more", "next": "Next", "previous": "Previous",
    "first": "First", "last": "Last", "pageSizeSelectorLabel": "Page Size:", "ariaPageSizeSelectorLabel": "Page Size",
    "firstPage": "First Page", "lastPage": "Last Page", "nextPage": "Next Page", "previousPage": "Previous Page",
    "noRowsToShow": "No Rows To Show", "loadingOoo": "Loading...", "filterOoo": "Filter...", "searchOoo": "Search...",
    "equals": "Equals", "notEqual": "Does not equal", "lessThan": "Less than", "greaterThan": "Greater than",
    "lessThanOrEqual": "Less than or equal to", "greaterThanOrEqual": "Greater than or equal to", "inRange": "Between",
    "inRangeStart": "From", "inRangeEnd": "To", "contains": "Contains", "notContains": "Does not contain",
    "startsWith": "Begins with", "endsWith": "Ends with", "blank": "Blank", "notBlank": "Not blank",
    "andCondition": "AND", "orCondition": "OR", "applyFilter": "Apply", "resetFilter": "Reset",
    "clearFilter": "Clear", "cancelFilter": "Cancel", "selectAll": "(Select All)",
    "ariaFilterInput": "Filter Input", "ariaFilterValue": "Filter Value", "ariaFilteringOperator": "Filtering Operator",
    "ariaColumn": "Column", "ariaRowPage": "Rows", "sortAscending": "Sort Ascending",
    "sortDescending": "Sort Descending", "columnFilter": "Column Filter",
}


def grid_locale(lang: str) -> dict[str, str]:
    """``localeText`` for AG Grid in ``lang`` (English: AG Grid's own, given explicitly so
    that switching back from Spanish replaces every text)."""
    if lang == "es":
        return dict(_GRID_ES)
    return dict(_GRID_EN)


def keys() -> list[str]:
    """Every translation key (for tests and for pattern-matched label callbacks)."""
    return list(_T)


def norm_lang(lang: str | None) -> str:
    """``lang`` if supported, else the default (Spanish)."""
    return lang if lang in LANGS else DEFAULT_LANG


def fmt_num(x: float | int | None, lang: str, decimals: int = 0) -> str:
    """A number with the locale's separators: ``1.234,5`` (es) or ``1,234.5`` (en)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return t("tip.none", lang)
    s = f"{x:,.{decimals}f}"
    if lang == "en":
        return s
    return s.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def fmt_int(x: int | None, lang: str) -> str:
    """An integer with thousands separators."""
    return fmt_num(x, lang, 0)


def fmt_pct(x: float | None, lang: str, decimals: int = 1) -> str:
    """A signed percentage: ``+12,5 %`` (es) or ``+12.5%`` (en)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return t("tip.none", lang)
    s = ("+" if x > 0 else "") + fmt_num(x, lang, decimals)
    return s + (" %" if lang == "es" else "%")


def fmt_date(d: dt.date | str, lang: str) -> str:
    """``15 oct. 2023`` (es) or ``Oct 15, 2023`` (en)."""
    if isinstance(d, str):
        d = dt.date.fromisoformat(d)
    m = _MONTHS[norm_lang(lang)][d.month - 1]
    return f"{m} {d.day}, {d.year}" if lang == "en" else f"{d.day} {m} {d.year}"


def fmt_month(d: dt.date, lang: str) -> str:
    """A month tick label: ``oct. 2023`` / ``Oct 2023``."""
    return f"{_MONTHS[norm_lang(lang)][d.month - 1]} {d.year}"


def plotly_locale(lang: str) -> dict:
    """A Plotly locale definition (month names, separators) for ``config.locales``.

    Registering it per graph keeps every axis and hover date in the chosen language
    without loading Plotly's locale scripts from a CDN.
    """
    lang = norm_lang(lang)
    return {
        "moduleType": "locale",
        "name": lang,
        "dictionary": {},
        "format": {
            "days": [d.capitalize() if lang == "en" else d for d in _DAYS[lang][6:] + _DAYS[lang][:6]],
            "shortDays": [d[:3] for d in _DAYS[lang][6:] + _DAYS[lang][:6]],
            "months": _MONTHS_LONG[lang],
            "shortMonths": _MONTHS[lang],
            "date": "%d/%m/%Y" if lang == "es" else "%m/%d/%Y",
            "decimal": "," if lang == "es" else ".",
            "thousands": "." if lang == "es" else ",",
        },
    }


#: Plotly layout ``separators`` (decimal then thousands) per language.
PLOTLY_SEPARATORS = {"es": ",.", "en": ".,"}
#: d3 date format of hover labels per language (with the locale's month names).
PLOTLY_DATE_FORMAT = {"es": "%-d %b %Y", "en": "%b %-d, %Y"}
#: DatePickerRange display formats (numeric, so the browser's own language cannot clash).
DATE_PICKER_FORMAT = {"es": "DD/MM/YYYY", "en": "MM/DD/YYYY"}


# --- hot spots (dashboard/pages/hotspots) -----------------------------------------------------
_T.update({
    "hotspots.title": ("Puntos calientes", "Hot spots"),
    "hotspots.hint": ("Dónde empeora y si es nuevo: Gi* de Getis-Ord por celda y periodo (vecinas y periodo anterior), "
                      "tendencia de Mann-Kendall y las 17 categorías de Esri. Haga clic en un hexágono para ver su historia.",
                      "Where it is getting worse, and whether that is new: Getis-Ord Gi* per cell and period (neighbours "
                      "and the previous period), a Mann-Kendall trend and Esri's 17 categories. Click a hexagon for its history."),
    "hotspots.period": ("Periodos", "Periods"),
    "hotspots.period_week": ("Semanas", "Weeks"),
    "hotspots.period_month": ("Meses", "Months"),
    "hotspots.span": ("Historia", "History"),
    "hotspots.span_12": ("12 meses", "12 months"),
    "hotspots.span_24": ("24 meses", "24 months"),
    "hotspots.span_all": ("Todo", "All"),
    "hotspots.resolution": ("Resolución H3", "H3 resolution"),
    "hotspots.legend": ("Patrón (celdas)", "Pattern (cells)"),
    "hotspots.legend_declared": ("Distrito en emergencia el {day}", "District under emergency on {day}"),
    "hotspots.summary": ("{cells} celdas de resolución {res}, {bins} {unit} del {start} al {end}; {hot} puntos calientes, "
                         "{cold} fríos. FDR de Benjamini-Hochberg (q = {alpha}) sobre {tests} pruebas.",
                         "{cells} cells at resolution {res}, {bins} {unit} from {start} to {end}; {hot} hot spots, "
                         "{cold} cold spots. Benjamini-Hochberg FDR (q = {alpha}) over {tests} tests."),
    "hotspots.summary_public": (" Público: solo la grilla publicada (k = {k}); los conteos suprimidos se tratan como "
                                "censurados.", " Public: the published grid only (k = {k}); suppressed counts are "
                                "treated as censored."),
    "hotspots.unit_week": ("semanas", "weeks"),
    "hotspots.unit_month": ("meses", "months"),
    "hotspots.too_short": ("Se necesitan al menos 10 periodos completos: elija más historia o semanas.",
                           "At least 10 whole periods are needed: choose more history or weeks."),
    "hotspots.history_hint": ("Haga clic en un hexágono coloreado para ver sus conteos y su z por periodo.",
                              "Click a coloured hexagon to see its counts and its z per period."),
    "hotspots.history_title": ("Celda {cell}: {pattern}", "Cell {cell}: {pattern}"),
    "hotspots.history_trend": ("Tendencia de z (Mann-Kendall): τ = {tau}, p = {p}.", "Trend of z (Mann-Kendall): τ = {tau}, p = {p}."),
    "hotspots.count": ("Incidentes", "Incidents"),
    "hotspots.z": ("z de Gi*", "Gi* z"),
    "hotspots.hot_bin": ("Periodo caliente significativo", "Significant hot period"),
    "hotspots.cold_bin": ("Periodo frío significativo", "Significant cold period"),
    "hotspots.tip": ("{pattern}<br>z (último periodo) = {z}, p = {p}<br>tendencia τ = {tau}",
                     "{pattern}<br>z (last period) = {z}, p = {p}<br>trend τ = {tau}"),
    "hotspots.censored": ("Sin patrón: los conteos suprimidos podrían cambiarlo", "No pattern: suppressed counts could change it"),
    "pattern.new hot spot": ("Nuevo punto caliente", "New hot spot"),
    "pattern.consecutive hot spot": ("Punto caliente consecutivo", "Consecutive hot spot"),
    "pattern.intensifying hot spot": ("Punto caliente en aumento", "Intensifying hot spot"),
    "pattern.persistent hot spot": ("Punto caliente persistente", "Persistent hot spot"),
    "pattern.diminishing hot spot": ("Punto caliente en disminución", "Diminishing hot spot"),
    "pattern.sporadic hot spot": ("Punto caliente esporádico", "Sporadic hot spot"),
    "pattern.oscillating hot spot": ("Punto caliente oscilante", "Oscillating hot spot"),
    "pattern.historical hot spot": ("Punto caliente histórico", "Historical hot spot"),
    "pattern.new cold spot": ("Nuevo punto frío", "New cold spot"),
    "pattern.consecutive cold spot": ("Punto frío consecutivo", "Consecutive cold spot"),
    "pattern.intensifying cold spot": ("Punto frío en aumento", "Intensifying cold spot"),
    "pattern.persistent cold spot": ("Punto frío persistente", "Persistent cold spot"),
    "pattern.diminishing cold spot": ("Punto frío en disminución", "Diminishing cold spot"),
    "pattern.sporadic cold spot": ("Punto frío esporádico", "Sporadic cold spot"),
    "pattern.oscillating cold spot": ("Punto frío oscilante", "Oscillating cold spot"),
    "pattern.historical cold spot": ("Punto frío histórico", "Historical cold spot"),
    "pattern.no pattern detected": ("No se detectó ningún patrón", "No pattern detected"),
})
