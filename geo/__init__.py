"""hexwatch's library: police incidents in H3 cells over districts and emergency declarations.

Data flows one way::

    files -> readers (validate) -> h3index / locate (index) -> cubes (aggregate)
          -> analysis (estimate) -> export / embed (publish)

Every stage is a pure function on DataFrames or Arrow tables; I/O lives at the edges
(`boundaries.fetch`, `ingest.ingest_file`, `store.Store`). Nothing here imports Dash.
"""

__version__ = "0.1.0"


def _small_pages() -> None:
    """Ask numpy not to mark large arrays for transparent huge pages.

    Why: on the 2-core VMs hexwatch is built and benchmarked on, first touching freshly
    allocated huge pages is slow, and ingest allocates gigabytes of short-lived arrays.
    Measured with ``python -m benchmarks.bench_ingest`` (10M points, medians of 3): the
    whole ingest 9.3-9.8 s -> 8.1-8.7 s, the plain H3 step 1.82 -> 1.70-1.73 s. Results are
    unchanged (it is only a paging hint). ``NUMPY_MADVISE_HUGEPAGE=1`` keeps numpy's
    default, as numpy itself documents for that variable.
    """
    import os

    if os.environ.get("NUMPY_MADVISE_HUGEPAGE") == "1":
        return
    try:
        import numpy as np

        np._core.multiarray._set_madvise_hugepage(False)
    except (ImportError, AttributeError):  # another numpy: keep its default
        pass


_small_pages()
