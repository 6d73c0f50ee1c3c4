"""NVIDIA Management Library queries through ctypes, as ``nnabla.utils.nvml``.

``nvmlInit()`` loads ``libnvidia-ml`` (``NVMLError`` with
``NVML_ERROR_LIBRARY_NOT_FOUND`` where there is no NVIDIA driver); then device
count, handles, names, utilization and memory can be read; ``nvmlShutdown()``.
"""
import ctypes
import ctypes.util
import sys
import threading

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_ALREADY_INITIALIZED = 5
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_INSUFFICIENT_SIZE = 7
NVML_ERROR_INSUFFICIENT_POWER = 8
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_IRQ_ISSUE = 11
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_CORRUPTED_INFOROM = 14
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_RESET_REQUIRED = 16
NVML_ERROR_OPERATING_SYSTEM = 17
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_ERROR_IN_USE = 19
NVML_ERROR_MEMORY = 20
NVML_ERROR_NO_DATA = 21
NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22
NVML_ERROR_INSUFFICIENT_RESOURCES = 23
NVML_ERROR_UNKNOWN = 999

NVML_DEVICE_NAME_BUFFER_SIZE = 64


class c_nvmlDevice_t(ctypes.c_void_p):
    """An opaque device handle."""


class c_nvmlUtilization_t(ctypes.Structure):
    _fields_ = [("gpu", ctypes.c_uint), ("memory", ctypes.c_uint)]


class c_nvmlMemory_t(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong),
                ("used", ctypes.c_ulonglong)]


class NVMLError(Exception):
    """An NVML call failed; ``value`` is its NVML return code."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value

    def __str__(self):
        try:
            return nvmlErrorString(self.value)
        except NVMLError:
            return f"NVML error {self.value}"


_state = {"lib": None, "lock": threading.Lock()}
lib_load_lock = _state["lock"]  # NNabla's name of the lock guarding the library load


def __getattr__(name):
    if name == "nvml_lib":  # NNabla's global: the loaded library (None until loaded)
        return _state["lib"]
    raise AttributeError(f"module 'nnabla.utils.nvml' has no attribute {name!r}")
_LIBRARY_NAMES = ("nvml.dll",) if sys.platform == "win32" else ("libnvidia-ml.so.1",
                                                                 "libnvidia-ml.so")


def _load_nvml_library():
    with _state["lock"]:
        if _state["lib"] is not None:
            return _state["lib"]
        names = list(_LIBRARY_NAMES)
        found = ctypes.util.find_library("nvidia-ml")
        if found:
            names.append(found)
        for name in names:
            try:
                _state["lib"] = ctypes.CDLL(name)
                return _state["lib"]
            except OSError:
                continue
        raise NVMLError(NVML_ERROR_LIBRARY_NOT_FOUND)


def _get_nvml_function(name):
    lib = _load_nvml_library()
    try:
        return getattr(lib, name)
    except AttributeError:
        raise NVMLError(NVML_ERROR_FUNCTION_NOT_FOUND) from None


def _check_return(ret):
    if ret != NVML_SUCCESS:
        raise NVMLError(ret)
    return ret


def nvmlErrorString(result):
    """NVML's text for a return code."""
    if _state["lib"] is None:
        return f"NVML error {result}" + (" (library not found)"
                                        if result == NVML_ERROR_LIBRARY_NOT_FOUND else "")
    fn = _get_nvml_function("nvmlErrorString")
    fn.restype = ctypes.c_char_p
    return fn(result).decode()


def nvmlInit(flags=0):
    """Load and initialize NVML."""
    _check_return(_get_nvml_function("nvmlInitWithFlags")(ctypes.c_uint(flags)))


def nvmlShutdown():
    """Release NVML."""
    _check_return(_get_nvml_function("nvmlShutdown")())


def nvmlDeviceGetCount():
    """The number of NVIDIA devices."""
    count = ctypes.c_uint()
    _check_return(_get_nvml_function("nvmlDeviceGetCount_v2")(ctypes.byref(count)))
    return count.value


def nvmlDeviceGetHandleByIndex(index):
    """The handle of device ``index``."""
    handle = c_nvmlDevice_t()
    _check_return(_get_nvml_function("nvmlDeviceGetHandleByIndex_v2")(
        ctypes.c_uint(index), ctypes.byref(handle)))
    return handle


def nvmlDeviceGetName(handle):
    """The device's name (bytes)."""
    name = ctypes.create_string_buffer(NVML_DEVICE_NAME_BUFFER_SIZE)
    _check_return(_get_nvml_function("nvmlDeviceGetName")(
        handle, name, ctypes.c_uint(NVML_DEVICE_NAME_BUFFER_SIZE)))
    return name.value


def nvmlDeviceGetUtilizationRates(handle):
    """GPU and memory utilization (percent) over the last sample period."""
    util = c_nvmlUtilization_t()
    _check_return(_get_nvml_function("nvmlDeviceGetUtilizationRates")(handle,
                                                                       ctypes.byref(util)))
    return util


def nvmlDeviceGetMemoryInfo(handle):
    """Total, free and used device memory in bytes."""
    memory = c_nvmlMemory_t()
    _check_return(_get_nvml_function("nvmlDeviceGetMemoryInfo")(handle, ctypes.byref(memory)))
    return memory
