"""Exit non-zero unless FILE is a 64-bit little-endian ELF executable for ARCH (aarch64 or x86_64)."""

import os
import struct
import sys

MACHINES = {"aarch64": 183, "x86_64": 62}

path, arch = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    header = f.read(20)
ok = (
    len(header) == 20
    and header[:4] == b"\x7fELF"
    and header[4] == 2  # 64-bit
    and header[5] == 1  # little-endian
    and struct.unpack_from("<H", header, 18)[0] == MACHINES[arch]
)
size = os.path.getsize(path)
print(f"{path}: {'ELF64 ' + arch if ok else 'NOT an ELF64 ' + arch + ' executable'}, {size} bytes")
sys.exit(0 if ok else 1)
