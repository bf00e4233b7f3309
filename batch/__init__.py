"""Batches: many candidate cases solved, resumed from a store, and compared.

``compplan.batch`` is both this package and the API function
:func:`compplan.api.batch`: once the package is imported it shadows the function
as an attribute of :mod:`compplan`, so the package itself is callable and calls it.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from compplan.api import batch

        return batch(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
