#!/usr/bin/env python3
"""iommufd-probe.py: in the VFIO rig on the iommufd kernel, drives one edu endpoint through iommufd by hand: bind, attach, IOMMU_IOAS_MAP_FILE of a memfd, DMA both ways.

Usage (as root in the rig, edu bound to vfio-pci): tests/boot/vfio/iommufd-probe.py BDF
Prints one "probe: ..." line per step and exits 0 when the bytes the edu's DMA engine read
from the memfd at IOVA came back through it 1 MiB further; exits 1 with the step
that failed. Numbers are the kernel's uapi (include/uapi/linux/iommufd.h, vfio.h of 6.13+):
it needs no headers, so it runs before microvm has an iommufd back-end.
"""
import ctypes
import fcntl
import os
import struct
import sys
import time

IOMMUFD_TYPE = ord(";")
IOMMU_IOAS_ALLOC = (IOMMUFD_TYPE << 8) | 0x81
IOMMU_IOAS_IOVA_RANGES = (IOMMUFD_TYPE << 8) | 0x84
IOMMU_IOAS_MAP_FILE = (IOMMUFD_TYPE << 8) | 0x8F
MAP_FIXED_IOVA, MAP_WRITEABLE, MAP_READABLE = 1, 2, 4
VFIO_DEVICE_GET_REGION_INFO = (IOMMUFD_TYPE << 8) | (100 + 8)
VFIO_DEVICE_BIND_IOMMUFD = (IOMMUFD_TYPE << 8) | (100 + 18)
VFIO_DEVICE_ATTACH_IOMMUFD_PT = (IOMMUFD_TYPE << 8) | (100 + 19)
BAR0, CONFIG = 0, 7  # VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX

EDU_IDENT, EDU_LIVE = 0x00, 0x04
EDU_DMA_SRC, EDU_DMA_DST, EDU_DMA_COUNT, EDU_DMA_CMD = 0x80, 0x88, 0x90, 0x98
EDU_BUF = 0x40000  # the edu's own 4 KiB DMA buffer, in its device address space
# Less than all of it: QEMU 7.2's edu takes a transfer that ends at the buffer's last byte
# for out of bounds, and that is a hw_error: QEMU aborts.
DMA_LEN = 1024
DMA_TO_RAM = 2
IOVA = 0x10000000
SIZE = 2 << 20


def step(msg):
    print(f"probe: {msg}", flush=True)


def fail(msg):
    print(f"probe: FAIL: {msg}", flush=True)
    sys.exit(1)


def ioctl(fd, req, buf, what):
    b = bytearray(buf)
    try:
        fcntl.ioctl(fd, req, b, True)
    except OSError as e:
        fail(f"{what}: {e}")
    return b


def cdev_of(bdf):
    d = f"/sys/bus/pci/devices/{bdf}/vfio-dev"
    try:
        names = [n for n in os.listdir(d) if n.startswith("vfio")]
    except OSError as e:
        fail(f"{d}: {e} (is {bdf} bound to vfio-pci, and the kernel built with VFIO_DEVICE_CDEV?)")
    if len(names) != 1:
        fail(f"{d} has {names}, want one vfioN")
    return "/dev/vfio/devices/" + names[0]


def region(dev, index):
    b = ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, struct.pack("<IIIIQQ", 32, 0, index, 0, 0, 0),
              f"VFIO_DEVICE_GET_REGION_INFO {index}")
    _, _, _, _, size, offset = struct.unpack("<IIIIQQ", b)
    return offset, size


def main():
    if len(sys.argv) != 2:
        print(__doc__.splitlines()[2], file=sys.stderr)
        sys.exit(2)
    bdf = sys.argv[1]
    path = cdev_of(bdf)
    iommufd = os.open("/dev/iommu", os.O_RDWR)
    dev = os.open(path, os.O_RDWR)
    step(f"opened /dev/iommu and {path}")

    b = ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, struct.pack("<IIiIQ", 24, 0, iommufd, 0, 0),
              "VFIO_DEVICE_BIND_IOMMUFD")
    devid = struct.unpack("<IIiIQ", b)[3]
    b = ioctl(iommufd, IOMMU_IOAS_ALLOC, struct.pack("<III", 12, 0, 0), "IOMMU_IOAS_ALLOC")
    ioas = struct.unpack("<III", b)[2]
    ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, struct.pack("<IIII", 16, 0, ioas, 0),
          "VFIO_DEVICE_ATTACH_IOMMUFD_PT")
    step(f"bound (devid {devid}) and attached to IOAS {ioas}")

    # IOVA ranges after the attach: the IOVA used below must lie in one.
    rbuf = ctypes.create_string_buffer(16 * 8)
    arg = ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES,
                struct.pack("<IIIIQQ", 32, ioas, 8, 0, ctypes.addressof(rbuf), 0),
                "IOMMU_IOAS_IOVA_RANGES")
    n = struct.unpack("<IIIIQQ", arg)[2]
    spans = [struct.unpack_from("<QQ", rbuf.raw, 16 * i) for i in range(min(n, 8))]
    step("IOVA ranges: " + " ".join(f"{a:#x}-{b:#x}" for a, b in spans))
    if not any(a <= IOVA and IOVA + SIZE - 1 <= b for a, b in spans):
        fail(f"IOVA {IOVA:#x}+{SIZE:#x} is in no allowed range")

    mfd = os.memfd_create("iommufd-probe", os.MFD_CLOEXEC)
    os.ftruncate(mfd, SIZE)
    pattern = os.urandom(DMA_LEN)
    os.pwrite(mfd, pattern, 0)
    ioctl(iommufd, IOMMU_IOAS_MAP_FILE,
          struct.pack("<IIIiQQQ", 40, MAP_FIXED_IOVA | MAP_WRITEABLE | MAP_READABLE, ioas, mfd,
                      0, SIZE, IOVA), "IOMMU_IOAS_MAP_FILE")
    step(f"IOMMU_IOAS_MAP_FILE: memfd {SIZE >> 20} MiB at IOVA {IOVA:#x}")

    cfg, _ = region(dev, CONFIG)
    bar, bar_size = region(dev, BAR0)
    cmd = struct.unpack("<H", os.pread(dev, 2, cfg + 4))[0]
    os.pwrite(dev, struct.pack("<H", cmd | 0x6), cfg + 4)  # memory space, bus master

    def rd(reg):
        return struct.unpack("<I", os.pread(dev, 4, bar + reg))[0]

    def wr(reg, val):
        os.pwrite(dev, struct.pack("<I", val), bar + reg)

    ident = rd(EDU_IDENT)
    if ident & 0xFF != 0xED:
        fail(f"BAR0 ident is {ident:#x}, not an edu's (0x...ed)")
    wr(EDU_LIVE, 0x12345678)
    if rd(EDU_LIVE) != (~0x12345678 & 0xFFFFFFFF):
        fail("the edu's liveness register does not invert what is written")

    def dma(src, dst, cmd):
        wr(EDU_DMA_SRC, src)
        wr(EDU_DMA_DST, dst)
        wr(EDU_DMA_COUNT, DMA_LEN)
        wr(EDU_DMA_CMD, 1 | cmd)
        deadline = time.monotonic() + 10
        while rd(EDU_DMA_CMD) & 1:
            if time.monotonic() > deadline:
                fail(f"edu DMA {src:#x} -> {dst:#x} did not finish within 10 s")
            time.sleep(0.01)

    dma(IOVA, EDU_BUF, 0)
    dma(EDU_BUF, IOVA + (1 << 20), DMA_TO_RAM)
    got = os.pread(mfd, DMA_LEN, 1 << 20)
    if got != pattern:
        fail("the page the edu wrote at IOVA+1MiB differs from the one it read at IOVA")
    step(f"edu DMA memfd -> device -> memfd through the IOAS: {DMA_LEN} bytes match")
    os.close(dev)
    os.close(iommufd)


if __name__ == "__main__":
    main()
