"""The guest's kernel: Debian's kernel package, downloaded once into the cache, unpacked with
dpkg -x, and its modules indexed with depmod."""

import os
import re
import shutil
import subprocess

from .common import BUILD, say, sh

CACHE = os.path.join(BUILD, "e2e-cache")


def fetch_kernel():
    """The package linux-image-amd64 depends on, downloaded once into the cache and unpacked."""
    os.makedirs(CACHE, exist_ok=True)

    def depends():
        out = subprocess.run(["apt-cache", "depends", "linux-image-amd64"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        m = re.search(r"Depends:\s*(linux-image-\S+)", out)
        return m.group(1) if m else None

    def cached(pkg):
        return sorted(f for f in os.listdir(CACHE)
                      if f.endswith(".deb") and f.startswith((pkg + "_") if pkg else "linux-image-"))

    pkg = depends()
    if pkg and not cached(pkg):
        say(f"downloading {pkg}")
        r = subprocess.run(["apt-get", "download", pkg], cwd=CACHE, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:  # stale package lists: the archive moved on
            say("apt-get download failed; updating the package lists and retrying")
            sh(["apt-get", "update", "-qq"])
            pkg = depends()
            sh(["apt-get", "download", pkg], cwd=CACHE)
    elif pkg is None and not cached(None):
        sh(["apt-get", "update", "-qq"])
        pkg = depends()
        if pkg:
            sh(["apt-get", "download", pkg], cwd=CACHE)
    debs = cached(pkg) or cached(None)
    if not debs:
        raise SystemExit("e2e: no kernel package: 'apt-cache depends linux-image-amd64' names none "
                         "and none is cached in " + CACHE)
    deb = os.path.join(CACHE, debs[-1])
    kdir = os.path.join(CACHE, "kernel-" + os.path.basename(deb)[:-4])
    if not os.path.isdir(os.path.join(kdir, "lib", "modules")):
        say(f"unpacking {os.path.basename(deb)}")
        shutil.rmtree(kdir, ignore_errors=True)
        sh(["dpkg", "-x", deb, kdir + ".tmp"])
        os.rename(kdir + ".tmp", kdir)
    kver = os.listdir(os.path.join(kdir, "lib", "modules"))[0]
    if not os.path.exists(os.path.join(kdir, "lib", "modules", kver, "modules.dep")):
        sh(["depmod", "-b", kdir, kver])
    vmlinuz = os.path.join(kdir, "boot", "vmlinuz-" + kver)
    return kdir, kver, vmlinuz
