"""Data types, as ``nnabla.dtypes`` (numpy dtypes)."""
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
