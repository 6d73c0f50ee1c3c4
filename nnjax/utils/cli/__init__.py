"""NNabla's command line, ``nnabla_cli`` (``nnabla.utils.cli``); entry point ``cli.main``."""
