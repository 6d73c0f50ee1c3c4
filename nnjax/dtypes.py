"""Data types, as ``nnabla.dtypes`` (numpy dtypes)."""
import builtins

import numpy as np

byte = np.int8
ubyte = np.uint8
short = np.int16
ushort = np.uint16
int = np.int32
uint = np.uint32
long = np.int64
ulong = np.uint64
longlong = np.int64
ulonglong = np.uint64
float = np.float32
double = np.float64
longdouble = np.longdouble
half = np.float16
bool = np.bool_

# NNabla's dtype codes (its C++ ``dtypes`` enum), both ways; the first name is
# NNabla's spelling (kept as scripts use it).
np_dtpye_to_int = {builtins.bool: 0,
                   np.byte: 1, np.ubyte: 2, np.short: 3, np.ushort: 4, np.int32: 5, np.uint32: 6,
                   np.longlong: 9, np.int64: 9, np.ulonglong: 10, np.uint64: 10,
                   np.float32: 11, np.double: 12, np.longdouble: 13}
int_to_np_dtype = {code: t for t, code in np_dtpye_to_int.items()}
