"""``Data``: the data side of the framework (data source and iterator)."""
from nnabla.utils.data_iterator import data_iterator
from nnabla.utils.data_source import DataSource


class Data(object):
    """Base class of a training data provider.

    A subclass defines its :class:`DataSource` (``CustomDataSource`` or an
    override of ``__data_source__``), how the iterator over it is made
    (``__data_iterator__``) and ``reset``/``next``/``size`` as its Worker uses them.
    """

    class CustomDataSource(DataSource):
        """Where a subclass puts its own data source."""

    def __data_source__(self):
        """Make the data source this Data iterates over."""
        return self.CustomDataSource()

    def __data_iterator__(self, data_source):
        """Make the data iterator over ``data_source``."""
        return data_iterator(data_source)

    def __init__(self):
        self._data_source = self.__data_source__()
        self._data_iterator = self.__data_iterator__(self._data_source)

    def reset(self):
        """Restart the iteration (before an epoch, or where the Worker needs it)."""

    def next(self):
        """The data of the next iteration."""

    def size(self):
        """The number of examples (as the Worker counts iterations by it)."""
