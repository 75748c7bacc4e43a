"""hexwatch's library: police incidents in H3 cells over districts and emergency declarations.

Data flows one way::

    files -> incidents (validate) -> h3index / locate (index) -> cubes (aggregate)
          -> analysis (estimate) -> export / embed (publish)

Every stage is a pure function on DataFrames or Arrow tables; I/O lives at the edges
(`boundaries.fetch`, `ingest.ingest_file`, `store.Store`). Nothing here imports Dash.
"""

__version__ = "0.1.0"
