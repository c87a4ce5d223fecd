"""Back a big, hot buffer with 2 MiB pages (Linux ``madvise(MADV_COLLAPSE)``).

Why: a query of a 1,000,000-row namespace streams about 80 MB of faiss codes (4 shards of
``PQ160x4fs`` over 480 padded columns). faiss allocates them with ``posix_memalign``, so they
sit on 4 KiB pages unless the kernel's transparent huge pages are "always" (here they are
"madvise"): the scan then takes a TLB miss every 4 KiB and the hardware prefetcher stops at
every page edge.
Collapsing the buffer into 2 MiB pages made the same scan about 9% cheaper on this machine
(docs/scale.md, "1,000,000 x 384, third pass"). numpy already asks for huge pages for its own
big arrays (the float32 matrix), so only faiss's buffers need this.

``MADV_COLLAPSE`` (Linux 6.1+) collapses the pages synchronously, copying at most the
buffer once; older kernels and other systems refuse it, and then nothing changes: this is an
optimisation only, never needed for correctness.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

MADV_HUGEPAGE = 14
MADV_COLLAPSE = 25
HUGE_PAGE = 1 << 21

_madvise: Any = None


def _libc_madvise() -> Any:
    global _madvise
    if _madvise is None:
        if not sys.platform.startswith("linux"):
            _madvise = False
        else:
            try:
                fn = ctypes.CDLL(None, use_errno=True).madvise
            except (OSError, AttributeError):
                _madvise = False
            else:
                fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
                fn.restype = ctypes.c_int
                _madvise = fn
    return _madvise


def collapse(address: int, nbytes: int) -> bool:
    """Ask for the whole 2 MiB pages inside ``[address, address + nbytes)`` to be huge pages.

    Returns True when the kernel collapsed them; False when there is no whole huge page in
    the range or the system cannot (old kernel, not Linux, memory too fragmented).
    """
    madvise = _libc_madvise()
    start = (address + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1)
    end = (address + nbytes) & ~(HUGE_PAGE - 1)
    if not madvise or end <= start:
        return False
    # MADV_HUGEPAGE first, so later faults in this range get huge pages too and khugepaged
    # keeps them; then collapse what is already there.
    madvise(start, end - start, MADV_HUGEPAGE)
    return bool(madvise(start, end - start, MADV_COLLAPSE) == 0)


def collapse_faiss_codes(index: Any) -> bool:
    """``collapse`` the code buffer of a faiss fast-scan index (an ``AlignedTable``)."""
    codes = getattr(index, "codes", None)
    if codes is None or not hasattr(codes, "nbytes"):
        return False
    nbytes = int(codes.nbytes())
    return collapse(int(codes.get()), nbytes) if nbytes else False
