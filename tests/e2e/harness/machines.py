"""The machines the scenarios boot: the pc machine with a legacy pmem region (memmap=) and
the q35 machine with a file-backed emulated NVDIMM, both with the test's initramfs as the whole
system; the pc machine booting a real Debian root from a disk (the debian-* scenarios); the
guest's kernel command line."""

import os

from .common import WORK
from .qemu import Qemu

# The legacy pmem region: 528 MiB at 2032 MiB. As devdax with -M mem (struct pages in RAM) the
# namespace keeps its first 2 MiB, the info block padded to the 2 MiB alignment, and kmem adds
# whole 128 MiB blocks of the rest, so exactly 4 blocks (512 MiB) become System RAM.
MEMMAP = "memmap=528M!2032M"
PMEM_RAM_KB = 4 * 128 * 1024
# The emulated NVDIMM's backing file: 1 GiB of region plus the 128 KiB label area.
NVDIMM_BYTES = 1073872896


class Env:
    """What the scenarios boot: the options, the kernel (a kernel.Kernel), the initramfs and the
    built programs, and a Qemu for each machine with the guest's command line
    (wbe2e.scenario=, wbe2e.stage=, extra wbe2e.* words)."""

    def __init__(self, args, kernel, initrd, programs=None):
        self.args = args
        self.programs = programs  # {name: path} of the built programs (build.binaries)
        self.kernel = kernel
        self.vmlinuz = kernel.vmlinuz
        self.initrd = initrd

    def cmdline(self, scenario, extra="", nvdimm=False, stage=1, pmem=True):
        parts = ["console=ttyS0", "panic=-1", f"loglevel={self.args.loglevel}"]
        if not nvdimm and pmem:
            parts.append(MEMMAP)
        parts += [f"wbe2e.scenario={scenario}", f"wbe2e.stage={stage}"]
        if self.args.kexec != "auto":
            parts.append(f"wbe2e.kexec={self.args.kexec}")
        if nvdimm:
            parts.append("wbe2e.nvdimm=1")
        return " ".join(parts + ([extra] if extra else []))

    def legacy(self, name, scenario, extra=""):
        return Qemu(name, ["-machine", "pc", "-m", "3G"], self.cmdline(scenario, extra),
                    self.vmlinuz, self.initrd, self.args.boot_timeout, self.args.run_timeout)

    def nvdimm(self, name, scenario, backing, stage, extra=""):
        machine = ["-machine", "q35,nvdimm=on", "-m", "2G,slots=2,maxmem=8G",
                   "-object", "memory-backend-ram,id=m0,size=2G",
                   "-numa", "node,nodeid=0,cpus=0-1,memdev=m0", "-numa", "node,nodeid=1",
                   "-object", f"memory-backend-file,id=mem1,share=on,mem-path={backing},"
                              f"size={NVDIMM_BYTES}",
                   "-device", "nvdimm,id=nvdimm1,memdev=mem1,label-size=128K,node=1"]
        return Qemu(name, machine, self.cmdline(scenario, extra, nvdimm=True, stage=stage),
                    self.vmlinuz, self.initrd, self.args.boot_timeout, self.args.run_timeout)


    def debian(self, name, image, scenario, extra="", pmem=True):
        """The pc machine with legacy pmem (none when not `pmem`) booting `image` (a
        debian_image.DebianImage): the root on a virtio disk, the root's own kernel and
        initramfs, systemd as init."""
        machine = ["-machine", "pc", "-m", "3G",
                   # cache=unsafe: the image is thrown away after the run, so the guest's
                   # flushes need not reach the host's disk.
                   "-drive", f"file={image.disk},format=raw,if=virtio,cache=unsafe"]
        # systemd.firstboot=off: the root has a machine-id, but should that change, a first
        # boot must not stop to ask on the console.
        root = f"root=/dev/vda ro systemd.firstboot=off {extra}".strip()
        # tb-size=64 (MiB of translated code; QEMU's default is 1 GiB): QEMU 7.2's TCG keeps
        # the code it translated across a kexec, and the next kernel's stores into a page that
        # still has stale translations take a slow path each (measured: ~1.6 ms a store, a page
        # cleared per second; the guest stalled 12-54 s in clear_page() as systemd started,
        # QEMU's own time all in page_collection_lock and TB invalidation). A smaller cache is
        # flushed often enough that the old kernel's code is gone soon after the jump. An
        # emulator artifact: real CPUs (and KVM) run no translations. vm-test-facts.md.
        return Qemu(name, machine, self.cmdline(scenario, root, pmem=pmem), image.vmlinuz,
                    image.initrd,
                    self.args.boot_timeout, self.args.run_timeout, accel="tcg,tb-size=64")


def sizes(env, **defaults):
    """wbe2e.* size parameters, scaled down with --quick."""
    out = []
    for k, v in defaults.items():
        if env.args.quick:
            v = max(1, v // 8)
        out.append(f"wbe2e.{k}={v}")
    return " ".join(out)


def fresh_nvdimm_backing(name):
    """An emulated NVDIMM's backing file, all zeros: empty labels, no image."""
    backing = os.path.join(WORK, name)
    if os.path.exists(backing):
        os.unlink(backing)
    with open(backing, "wb") as fh:
        fh.truncate(NVDIMM_BYTES)
    return backing
