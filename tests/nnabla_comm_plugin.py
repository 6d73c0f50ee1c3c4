"""pytest plugin for running NNabla's own ``python/test/communicator`` tests on CPUs:
they take the number of devices from ``nnabla_ext.cuda.get_device_count()`` (GPUs, 0
here) and want one per process, so under the launcher it reports one per process.

    cd nnabla/python/test/communicator
    PYTHONPATH=/path/to/nnjax/tests:$PYTHONPATH python -m nnabla.distributed -n 2 \\
        -m pytest -p nnabla_comm_plugin --test-communicator test_all_reduce.py ...
"""
import os

import nnabla_ext.cuda as cuda

_processes = int(os.environ.get("NNJAX_NUM_PROCESSES", "1"))
cuda.get_device_count = lambda: _processes
cuda.get_devices = lambda: [str(i) for i in range(_processes)]
