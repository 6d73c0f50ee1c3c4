"""``nnabla.core``: graphs as data (graph_def) and modules."""
