"""Checks that FILE is a 64-bit little-endian ELF executable for ARCH (aarch64 or x86_64) that the
Lambda runtime can load: the newest GLIBC_x.y symbol version it needs (from its version-needed
section, .gnu.version_r) must be at most MAX_GLIBC. `provided.al2023` runs on Amazon Linux 2023,
whose C library is glibc 2.34 ("Core toolchain packages glibc, gcc, binutils",
https://docs.aws.amazon.com/linux/al2023/ug/core-glibc.html); a bootstrap needing a newer symbol
fails at init on Lambda while running fine on the machine that built it.

Usage: check_elf.py FILE ARCH [--max-glibc 2.34]
       check_elf.py --self-test     (crafted ELF files the check must read right)
Standard library only.
"""

import os
import shutil
import struct
import subprocess
import sys
import tempfile

MACHINES = {"aarch64": 183, "x86_64": 62}
SHT_STRTAB = 3
SHT_GNU_VERNEED = 0x6FFFFFFE
AL2023_GLIBC = (2, 34)


def read_cstring(data, offset):
    end = data.index(b"\0", offset)
    return data[offset:end].decode()


def needed_versions(data):
    """{library: [version names]} from the ELF64 LE image's .gnu.version_r section."""
    e_shoff, = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize) for i in range(e_shnum)]
    needed = {}
    for _name, kind, _flags, _addr, offset, _size, link, count, _align, _entsize in sections:
        if kind != SHT_GNU_VERNEED:
            continue
        strings = sections[link][4]  # sh_offset of the linked string table (.dynstr)
        entry = offset
        for _ in range(count):  # sh_info: the number of Verneed entries
            _version, aux_count, file_name, aux, following = struct.unpack_from("<HHIII", data, entry)
            library = read_cstring(data, strings + file_name)
            names = needed.setdefault(library, [])
            aux_entry = entry + aux
            for _ in range(aux_count):
                _hash, _flags, _other, name, aux_next = struct.unpack_from("<IHHII", data, aux_entry)
                names.append(read_cstring(data, strings + name))
                aux_entry += aux_next
            if not following:
                break
            entry += following
    return needed


def newest_glibc(needed):
    versions = [
        tuple(int(part) for part in name[len("GLIBC_"):].split("."))
        for names in needed.values()
        for name in names
        if name.startswith("GLIBC_") and name[len("GLIBC_"):].replace(".", "").isdigit()
    ]
    return max(versions, default=None)


def check(path, arch, max_glibc=AL2023_GLIBC):
    """(ok, one-line report)."""
    with open(path, "rb") as f:
        data = f.read()
    size = os.path.getsize(path)
    elf = (
        len(data) >= 64
        and data[:4] == b"\x7fELF"
        and data[4] == 2  # 64-bit
        and data[5] == 1  # little-endian
        and struct.unpack_from("<H", data, 18)[0] == MACHINES[arch]
    )
    if not elf:
        return False, f"{path}: NOT an ELF64 {arch} executable, {size} bytes"
    newest = newest_glibc(needed_versions(data))
    limit = ".".join(map(str, max_glibc))
    if newest is None:
        return True, f"{path}: ELF64 {arch}, {size} bytes, needs no GLIBC symbol version"
    shown = "GLIBC_" + ".".join(map(str, newest))
    if newest > max_glibc:
        return False, f"{path}: ELF64 {arch}, {size} bytes, needs {shown}: newer than glibc {limit} of the Lambda runtime"
    return True, f"{path}: ELF64 {arch}, {size} bytes, newest symbol version {shown} (runtime has glibc {limit})"


def crafted_elf(machine, libraries):
    """A minimal ELF64 LE image: a null section, .dynstr, .gnu.version_r naming `libraries`
    ({file: [version names]}), and no program headers (enough for the reader, not to run)."""
    strings = bytearray(b"\0")

    def string(text):
        offset = len(strings)
        strings.extend(text.encode() + b"\0")
        return offset

    verneed = bytearray()
    items = list(libraries.items())
    for index, (library, versions) in enumerate(items):
        file_name = string(library)
        following = 16 + 16 * len(versions) if index + 1 < len(items) else 0
        verneed += struct.pack("<HHIII", 1, len(versions), file_name, 16, following)
        for number, version in enumerate(versions):
            aux_next = 16 if number + 1 < len(versions) else 0
            verneed += struct.pack("<IHHII", 0, 0, 2 + number, string(version), aux_next)
    dynstr_offset = 64
    verneed_offset = dynstr_offset + len(strings)
    shoff = verneed_offset + len(verneed)
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    header += struct.pack("<HHIQQQIHHHHHH", 3, machine, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 0)
    sections = [
        bytes(64),
        struct.pack("<IIQQQQIIQQ", 0, SHT_STRTAB, 0, 0, dynstr_offset, len(strings), 0, 0, 1, 0),
        struct.pack("<IIQQQQIIQQ", 0, SHT_GNU_VERNEED, 0, 0, verneed_offset, len(verneed), 1, len(items), 8, 0),
    ]
    return header + bytes(strings) + bytes(verneed) + b"".join(sections)


def self_test():
    cases = [
        # (libraries, arch written, arch checked, expected ok, expected in the report)
        ({"libc.so.6": ["GLIBC_2.17", "GLIBC_2.28"], "libm.so.6": ["GLIBC_2.29"]}, "aarch64", "aarch64", True, "GLIBC_2.29"),
        ({"libgcc_s.so.1": ["GCC_3.0"], "libc.so.6": ["GLIBC_2.34", "GLIBC_PRIVATE"]}, "aarch64", "aarch64", True, "GLIBC_2.34"),
        ({"libc.so.6": ["GLIBC_2.17", "GLIBC_2.35"]}, "aarch64", "aarch64", False, "needs GLIBC_2.35"),
        ({"libc.so.6": ["GLIBC_2.9"], "libpthread.so.0": ["GLIBC_2.38"]}, "aarch64", "aarch64", False, "GLIBC_2.38"),
        ({}, "aarch64", "aarch64", True, "needs no GLIBC"),
        ({"libc.so.6": ["GLIBC_2.17"]}, "x86_64", "aarch64", False, "NOT an ELF64 aarch64"),
    ]
    failures = []
    with tempfile.TemporaryDirectory() as directory:
        for number, (libraries, written, checked, expected_ok, expected_text) in enumerate(cases):
            path = os.path.join(directory, f"case{number}")
            with open(path, "wb") as f:
                f.write(crafted_elf(MACHINES[written], libraries))
            ok, report = check(path, checked)
            if ok != expected_ok or expected_text not in report:
                failures.append(f"case {number} {libraries}: {report}")
    # This interpreter is a real ELF of this machine: its needs must read as GLIBC_x.y, and as
    # binutils' readelf reads them where it is installed.
    if sys.platform == "linux" and os.uname().machine in MACHINES:
        with open(sys.executable, "rb") as f:
            newest = newest_glibc(needed_versions(f.read()))
        shown = "GLIBC_" + ".".join(map(str, newest)) if newest else "none"
        readelf = shutil.which("readelf")
        if readelf:
            listing = subprocess.run([readelf, "-V", sys.executable], capture_output=True, text=True).stdout
            names = {word.strip(",") for word in listing.split() if word.startswith("GLIBC_2.")}
            theirs = max((tuple(int(p) for p in n[6:].split(".")) for n in names), default=None)
            if theirs != newest:
                failures.append(f"{sys.executable}: {shown}, readelf -V says {theirs}")
            shown += ", as readelf -V reads it"
        if newest is None:
            failures.append(f"{sys.executable}: no GLIBC version read")
        print(f"check_elf self-test: {sys.executable} needs {shown}")
    for failure in failures:
        print(f"check_elf self-test: {failure}")
    if failures:
        sys.exit(1)
    print(f"check_elf self-test: all {len(cases)} crafted cases read right")


def main(argv):
    if argv[1:] == ["--self-test"]:
        self_test()
        return
    path, arch = argv[1], argv[2]
    max_glibc = AL2023_GLIBC
    if "--max-glibc" in argv:
        max_glibc = tuple(int(p) for p in argv[argv.index("--max-glibc") + 1].split("."))
    ok, report = check(path, arch, max_glibc)
    print(report)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main(sys.argv)
