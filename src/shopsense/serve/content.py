"""Content similarity for items no model knows yet (cold start): TF-IDF over each
item's title, category path and brand, cosine between items.

A new item is in the catalog before anyone has bought it, so no collaborative model can
place it; its words can. TF-IDF needs no model download and rebuilds in well under a
second for tens of thousands of items, so the index is rebuilt lazily whenever the
catalog's text changed (:attr:`ServingCatalog.text_version`).
"""

from __future__ import annotations

import re
import threading

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.serve.catalog import ServingCatalog

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Lower-case words of ``text`` (letters and digits, any script)."""
    return _WORD.findall(text.lower())


class ContentIndex:
    """L2-normalised TF-IDF rows for every described item, by global item code."""

    def __init__(self, catalog: ServingCatalog) -> None:
        self.catalog = catalog
        self._lock = threading.Lock()
        self._version = -1
        self._matrix: sp.csr_matrix = sp.csr_matrix((0, 0))

    def matrix(self) -> sp.csr_matrix:
        """``[n_items, n_words]`` rows for global codes ``0 .. n - 1`` (zero rows for
        items without text); rebuilt when the catalog's text changed."""
        # Rebuilt only when text changed: items met later without a description (ids in
        # events) have no words, and codes past the matrix read as zero rows.
        if self._version == self.catalog.text_version:
            return self._matrix
        with self._lock:
            version = self.catalog.text_version
            if self._version != version:
                self._matrix = self._build(len(self.catalog))
                self._version = version
            return self._matrix

    def _build(self, n_items: int) -> sp.csr_matrix:
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        columns: list[int] = []
        for code in range(n_items):
            for word in set(tokens(self.catalog.text(code))):
                rows.append(code)
                columns.append(vocabulary.setdefault(word, len(vocabulary)))
        counts = sp.csr_matrix(
            (np.ones(len(rows)), (rows, columns)), shape=(n_items, max(len(vocabulary), 1))
        )
        document_frequency = np.bincount(columns, minlength=counts.shape[1]).astype(np.float64)
        idf = np.log((1.0 + n_items) / (1.0 + document_frequency)) + 1.0
        weighted = sp.csr_matrix(counts @ sp.diags(idf))
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        return sp.csr_matrix(sp.diags(inverse) @ weighted)

    def similarity(self, queries: IntArray, candidates: IntArray) -> FloatArray:
        """Cosine ``[len(queries), len(candidates)]`` between items (global codes)."""
        matrix = self.matrix()
        limit = matrix.shape[0]
        rows = queries < limit
        known = candidates < limit
        result = np.zeros((len(queries), len(candidates)))
        if rows.any() and known.any():
            block = matrix[queries[rows]] @ matrix[candidates[known]].T
            result[np.ix_(rows, known)] = block.toarray()
        return result

    def nearest(self, code: int, n: int, *, allowed: npt.NDArray[np.bool_]) -> list[int]:
        """The ``n`` items most similar to ``code`` among ``allowed`` (never itself),
        best first; items with no word in common are left out."""
        matrix = self.matrix()
        if code >= matrix.shape[0]:
            return []
        scores = np.asarray((matrix @ matrix[code].T).toarray()).ravel()
        scores[code] = 0.0
        size = min(len(allowed), len(scores))
        scores[:size][~allowed[:size]] = 0.0
        scores[size:] = 0.0
        positive = np.flatnonzero(scores > 0)
        order = positive[np.lexsort((positive, -scores[positive]))]
        return [int(item) for item in order[:n]]


__all__ = ["ContentIndex", "tokens"]
