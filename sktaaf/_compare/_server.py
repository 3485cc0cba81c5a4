"""Imported last by the fork server of ``sktaaf compare`` (see
:func:`~sktaaf._compare._fit.process_context`), after the libraries and the
compared models' modules: it does once, in the server, what every fit's
process would otherwise redo.

- :func:`~sktaaf._compare._fit.threadpool_controller` finds the BLAS/OpenMP
  libraries now loaded (it reads their thread counts; it starts no thread).
- ``gc.freeze()`` moves every object imported so far out of the garbage
  collector's reach, so that no collection in a forked fit visits (or, by
  writing their headers, copies) them.

Nothing else imports this module.
"""

import gc

from ._fit import threadpool_controller

threadpool_controller()
gc.freeze()
