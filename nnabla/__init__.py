"""``import nnabla`` resolves to nnjax: this package hands over to it.

After this import ``sys.modules['nnabla']`` is the ``nnjax`` module and every
``nnabla.x`` import returns the module object ``nnjax.x``.
"""
import sys

import nnjax

sys.modules[__name__] = nnjax
