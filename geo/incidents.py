"""The readers' public names under their first home: the readers now live in :mod:`geo.readers`
(one module per file kind and per source format); this module re-exports them so that
``from geo.incidents import read_points`` and ``geo.incidents.parse_sidpol`` keep working."""

from geo.readers import *  # noqa: F401,F403
from geo.readers import __all__  # noqa: F401
