"""The base of the debian-* scenarios: a Debian 12 root built once per machine with debootstrap
(minbase, systemd as init, Debian's kernel and initramfs-tools, the pmem and kexec tools and
the libraries warmboot links), from the mirror this machine's apt sources already use.

The root is cached outside the clone (CI runs in a fresh clone) under
CACHE/debian-root/base-KEY/ (CACHE as for the kernels: $WB_E2E_KERNEL_CACHE, else
/var/cache/warmboot-e2e), KEY being a hash of what decides its contents: the suite, the
variant, the architecture, the package list and this file's own text (so a change to how the
root is built builds it again). The package versions are whatever the mirror has when it is
built; the root is not refreshed until the key changes. base.json beside the tree says what is
in it. Roots unused for PRUNE_DAYS are deleted when another one is built.

Each run copies the tree (debian_image.py) and never changes the cached one.
"""

import fcntl
import glob
import hashlib
import json
import os
import subprocess
import time

from .chroot import chroot, remove_tree, unmount_all
from .common import say, sh
from .kernel import cache_root, machine_mirror

SUITE = "bookworm"
VARIANT = "minbase"
ARCH = "amd64"
PACKAGES = (
    # init and boot: what a Debian 12 machine boots with.
    "systemd", "systemd-sysv", "udev", "dbus", "kmod", "linux-image-amd64", "initramfs-tools",
    "e2fsprogs",  # fsck of the ext4 root, in the initramfs and by systemd-fsck
    # warmboot's tools at run time.
    "ndctl", "daxctl", "kexec-tools",
    # The libraries `ldd` lists for warmboot and warmbootd (most come with the above anyway;
    # named so that a change elsewhere cannot drop one). debian_image checks ldd in the root.
    "libndctl6", "libdaxctl1", "libzstd1", "libxxhash0", "libsystemd0", "libblkid1",
    "libstdc++6", "libssl3",
)
META = "base.json"
PRUNE_DAYS = 14


class BaseRoot:
    """One cached root: `tree` the directory, `meta` base.json (key, suite, packages, kernel
    release, build seconds), `built_now` whether this run built it."""

    def __init__(self, path, built_now=False):
        self.path = path
        self.tree = os.path.join(path, "tree")
        with open(os.path.join(path, META)) as fh:
            self.meta = json.load(fh)
        self.built_now = built_now

    def describe(self):
        return (f"Debian {self.meta['suite']} {self.meta['variant']} root {self.meta['key']} "
                f"(kernel {self.meta['kernel']}, built {self.meta['built']} in "
                f"{self.meta['build_seconds']:.0f} s)")


def cache_key():
    h = hashlib.sha256()
    h.update(json.dumps({"suite": SUITE, "variant": VARIANT, "arch": ARCH,
                         "packages": sorted(PACKAGES)}, sort_keys=True).encode())
    with open(__file__, "rb") as fh:
        h.update(fh.read())
    return h.hexdigest()[:16]


def _build(dest, key):
    """debootstrap into dest.tmp, an initramfs made if the kernel's postinst found no
    generator yet, apt's downloaded packages dropped, then base.json and the rename."""
    uri, keyring = machine_mirror(SUITE)
    tmp = dest + ".tmp"
    remove_tree(tmp)
    os.makedirs(tmp)
    tree = os.path.join(tmp, "tree")
    say(f"debian root: debootstrap --variant={VARIANT} {SUITE} from {uri} (once per machine; "
        f"cached as {os.path.basename(dest)})")
    t0 = time.monotonic()
    cmd = ["debootstrap", f"--variant={VARIANT}", f"--arch={ARCH}",
           "--include=" + ",".join(PACKAGES)]
    if keyring:
        cmd.append(f"--keyring={keyring}")
    r = subprocess.run(cmd + [SUITE, tree, uri], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    # debootstrap mounts /proc and /sys in the target itself; a failure can leave them.
    unmount_all(tree)
    if r.returncode != 0:
        log = os.path.join(tree, "debootstrap", "debootstrap.log")
        detail = open(log, errors="replace").read()[-3000:] if os.path.exists(log) else ""
        raise SystemExit(f"e2e: debootstrap failed ({r.returncode}):\n{r.stdout[-3000:]}\n"
                         f"{detail}")
    kernels = sorted(os.path.basename(p)[len("vmlinuz-"):]
                     for p in glob.glob(os.path.join(tree, "boot", "vmlinuz-*")))
    if len(kernels) != 1:
        raise SystemExit(f"e2e: debootstrap left {len(kernels)} kernels in /boot: {kernels}")
    kver = kernels[0]
    if not os.path.exists(os.path.join(tree, "boot", "initrd.img-" + kver)):
        # linux-image was configured before initramfs-tools: make the first one now (each run
        # updates it with -u, which needs one to exist).
        with chroot(tree) as run:
            run(["update-initramfs", "-c", "-k", kver])
    sh(["chroot", tree, "apt-get", "clean"])
    seconds = time.monotonic() - t0
    dpkg = subprocess.run(["chroot", tree, "dpkg-query", "-W", "-f", "${Package} ${Version}\\n"],
                          stdout=subprocess.PIPE, text=True).stdout.split()
    with open(os.path.join(tmp, META), "w") as fh:
        json.dump({"key": key, "suite": SUITE, "variant": VARIANT, "arch": ARCH, "mirror": uri,
                   "packages": list(PACKAGES), "kernel": kver,
                   "built": time.strftime("%Y-%m-%d %H:%M"), "build_seconds": seconds,
                   "debootstrap": sh(["debootstrap", "--version"]).strip(),
                   "installed": [" ".join(p) for p in zip(dpkg[::2], dpkg[1::2])]}, fh,
                  indent=1)
    os.rename(tmp, dest)
    say(f"debian root: built in {seconds:.0f} s ({len(dpkg) // 2} packages, kernel {kver})")


def prune(rdir, keep):
    now = time.time()
    for p in glob.glob(os.path.join(rdir, "base-*")):
        if p == keep or now - os.path.getmtime(p) < PRUNE_DAYS * 86400:
            continue
        say(f"debian root: removing {os.path.basename(p)} (unused for {PRUNE_DAYS} days)")
        remove_tree(p)


def base_root():
    """The cached root for this file's key, built first if it is not there yet."""
    rdir = os.path.join(cache_root(), "debian-root")
    os.makedirs(rdir, exist_ok=True)
    key = cache_key()
    dest = os.path.join(rdir, "base-" + key)
    with open(os.path.join(rdir, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run building the same root waits here
        built = False
        if not os.path.exists(os.path.join(dest, META)):
            _build(dest, key)
            built = True
        os.utime(dest)  # in use: not pruned
        prune(rdir, dest)
    base = BaseRoot(dest, built_now=built)
    say(f"debian root: {base.describe()}{'' if built else ', cached'}")
    return base
