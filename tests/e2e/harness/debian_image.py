"""One run's disk image of the debian-* scenarios: the cached base root (debian_base.py) copied,
warmboot installed into it, the test's guest side added (a unit that runs the scenario's
stage once systemd has reached multi-user.target and powers off), `update-initramfs -u` run
inside it, the root's own kernel and the initramfs just built copied out for QEMU's -kernel
and -initrd, and the tree made an ext4 image with `mkfs.ext4 -d` (no loop mount).

The image is kept outside the clone (CI runs in a fresh clone) under
CACHE/debian-image/KEY/ (CACHE as for the kernels and the base root), KEY a hash of its inputs
(image_key: the base root, the .debs, the guest side, the sample application, this file); the
IMAGE_KEEP most recently used are kept. Each run boots its own copy under
build/e2e-work/NAME/ (a boot writes to its disk)."""

import glob
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import time

from .chroot import chroot, remove_tree
from .common import HERE, ROOT, WORK, MIB, say, sh
from .initramfs import Cpio
from .kernel import cache_root

GUEST = os.path.join(HERE, "guest")
GUEST_LIB = "/usr/local/lib/warmboot-e2e"  # the guest side's files inside the root
E2E_UNIT = "warmboot-e2e.service"
SAMPLE_UNIT = "warmboot-sample.service"  # debian-warm's application
# The .debs the package build (scripts/deb: debian/, dpkg-buildpackage) leaves in a tree;
# $WB_E2E_DEBS names another directory of them.
DEBS_DIR = os.environ.get("WB_E2E_DEBS") or os.path.join(ROOT, "build", "deb")
# The legacy pmem region's namespace, handed to warmboot in the root's configuration.
PMEM_NAMESPACE = "namespace0.0"
# Room in the image beyond the tree: what the guest writes (journal, /var) while it runs.
SPARE_BYTES = 512 * MIB


class DebianImage:
    """`disk` the raw ext4 image (the root, /dev/vda in the guest), `vmlinuz` and `initrd` the
    root's own kernel and its update-initramfs output, `release` the kernel's, `installed` how
    warmboot got in ("debs: ..." or "build tree (temporary)"), `seconds` the build's time."""

    def __init__(self, disk, vmlinuz, initrd, release, installed, seconds, initramfs_files=()):
        self.disk = disk
        self.vmlinuz = vmlinuz
        self.initrd = initrd
        self.release = release
        self.installed = installed
        self.seconds = seconds
        # What `lsinitramfs` lists in the initramfs update-initramfs built (paths as listed).
        self.initramfs_files = list(initramfs_files)

    def with_initrd_overlay(self, name, files):
        """This image booted with its initramfs plus an archive appended that replaces `files`
        ({path: text}): the kernel unpacks concatenated archives in order, compressed or not
        (Documentation/driver-api/early-userspace/buffer-format.rst), so the later file wins.
        The disk is the same."""
        cpio = Cpio()
        for path, text in files.items():
            parts = path.strip("/").split("/")
            for i in range(1, len(parts)):
                cpio._entry("/".join(parts[:i]), stat.S_IFDIR | 0o755)
            cpio._entry("/".join(parts), stat.S_IFREG | 0o644, text.encode())
        initrd = os.path.join(os.path.dirname(self.initrd), f"{name}.initrd.img")
        with open(self.initrd, "rb") as fh:
            data = fh.read()
        with open(initrd, "wb") as fh:
            # Each archive starts on a 4-byte boundary; the kernel skips the zeros between.
            fh.write(data + b"\0" * (-len(data) % 4) + cpio.finish())
        return DebianImage(self.disk, self.vmlinuz, initrd, self.release, self.installed,
                           self.seconds, self.initramfs_files)


def find_debs(debs_dir=DEBS_DIR):
    """The runtime packages among the built .debs (the -dev and debug packages are not needed
    to run warmboot and may depend on what the base root lacks)."""
    return sorted(d for d in glob.glob(os.path.join(debs_dir, "*.deb"))
                  if not os.path.basename(d).split("_")[0].endswith(("-dev", "-dbgsym")))


def source_tree():
    """The git tree id of the working tree's tracked files, as scripts/deb names the tree it
    built from (DEBS_DIR/.tree)."""
    git = ["git", "-C", ROOT]
    commit = subprocess.run(git + ["stash", "create"], stdout=subprocess.PIPE, text=True,
                            check=True).stdout.strip() or "HEAD"
    return subprocess.run(git + ["rev-parse", commit + "^{tree}"], stdout=subprocess.PIPE,
                          text=True, check=True).stdout.strip()


def check_debs_tree():
    """What a user would install is what this tree builds: .debs built from other sources are
    refused (WB_E2E_ANY_DEBS=1 takes them, saying so: a run on a tree that changed only in
    what the packages do not hold)."""
    stamp = os.path.join(DEBS_DIR, ".tree")
    built = open(stamp).read().strip() if os.path.exists(stamp) else "unknown"
    here = source_tree()
    if built == here:
        return
    why = (f"the .debs in {DEBS_DIR} were built from tree {built}, this working tree is {here}")
    if os.environ.get("WB_E2E_ANY_DEBS") == "1":
        say(f"e2e: note: {why} (WB_E2E_ANY_DEBS=1)")
        return
    raise SystemExit(f"e2e: {why}: rebuild them (scripts/deb), or set WB_E2E_ANY_DEBS=1")


def install_debs(run, tree, debs):
    """apt-get install of the .debs inside the root: their dependencies are already there (the
    base root has them), so apt has nothing to download; it says so loudly if it had.
    (--no-download cannot be used: apt then refuses local files, "Pathname to install is not
    absolute".)"""
    tmp = os.path.join(tree, "tmp", "warmboot-debs")
    os.makedirs(tmp, exist_ok=True)
    for d in debs:
        shutil.copy2(d, tmp)
    out = run(["apt-get", "install", "-y", "--no-install-recommends"] +
              [f"/tmp/warmboot-debs/{os.path.basename(d)}" for d in debs])
    # apt "gets" the local files too ("Get:1 /tmp/warmboot-debs/..."); anything else came
    # from the network.
    fetched = [line for line in out.splitlines()
               if line.startswith("Get:") and " /tmp/warmboot-debs/" not in line]
    if fetched:  # the package's dependencies moved on: the cached root should have them
        raise SystemExit("e2e: installing warmboot's .debs downloaded packages the base root "
                         f"lacks (add them to debian_base.PACKAGES): {fetched}")
    shutil.rmtree(tmp)
    # The postinst's word on a machine without pmem (the builder's, in the chroot).
    idle = [line.strip() for line in out.splitlines() if line.startswith("warmboot: ")]
    return ("debs: " + ", ".join(os.path.basename(d) for d in debs) +
            "".join(f"; postinst: {line}" for line in idle))


def install_guest(run, tree):
    """The test's guest side: lib.sh (the console protocol, shared with the initramfs
    scenarios), the debian scenarios' stages and runner, the unit that runs them, and a
    system-shutdown hook that shows what is still mounted when systemd-shutdown is done."""
    dest = os.path.join(tree, GUEST_LIB.lstrip("/"))
    os.makedirs(dest, exist_ok=True)
    shutil.copy2(os.path.join(GUEST, "lib.sh"), dest)
    for f in ("run", "scenarios.sh"):
        shutil.copy2(os.path.join(GUEST, "debian", f), dest)
    os.chmod(os.path.join(dest, "run"), 0o755)
    shutil.copy2(os.path.join(GUEST, "debian", E2E_UNIT),
                 os.path.join(tree, "etc", "systemd", "system", E2E_UNIT))
    hooks = os.path.join(tree, "usr", "lib", "systemd", "system-shutdown")
    os.makedirs(hooks, exist_ok=True)
    shutil.copy2(os.path.join(GUEST, "debian", "shutdown-probe"),
                 os.path.join(hooks, "warmboot-e2e-probe"))
    os.chmod(os.path.join(hooks, "warmboot-e2e-probe"), 0o755)
    run(["systemctl", "enable", E2E_UNIT])
    # Nobody logs in: the test drives the guest through its unit and reads the console, where a
    # getty's prompt would only get in the way.
    run(["systemctl", "mask", "serial-getty@ttyS0.service"])


class SampleApp:
    """debian-warm's application in the image: `binary` (warmboot-api-app, built by the harness),
    the size of the state it hands over: a memfd of `mib` MiB and `segments` byte segments."""

    def __init__(self, binary, mib, segments):
        self.binary = binary
        self.mib = mib
        self.segments = segments


def install_sample_app(run, tree, app):
    """warmboot-api-app as /usr/local/bin's program of warmboot-sample.service (enabled), its
    sizes in /etc/default/warmboot-sample. It runs on the client library the .deb installed (the
    build's RUNPATH names a host directory the root does not have): ldd must find it."""
    dest = os.path.join(tree, "usr", "local", "bin", "warmboot-api-app")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copy2(app.binary, dest)
    os.chmod(dest, 0o755)
    shutil.copy2(os.path.join(GUEST, "debian", SAMPLE_UNIT),
                 os.path.join(tree, "etc", "systemd", "system", SAMPLE_UNIT))
    with open(os.path.join(tree, "etc", "default", "warmboot-sample"), "w") as fh:
        fh.write(f"MIB={app.mib}\nSEGMENTS={app.segments}\n")
    out = run(["ldd", "/usr/local/bin/warmboot-api-app"])
    lib = next((line for line in out.splitlines() if "libwarmboot-client.so.0" in line), "")
    if "not found" in out or not re.search(r"=> (/usr)?/lib/", lib):
        raise SystemExit(f"e2e: warmboot-api-app in the debian root: {out}")
    run(["systemctl", "enable", SAMPLE_UNIT])


def configure(tree):
    """What an installer would have set: the root in fstab (systemd remounts it rw, fsck'd),
    a hostname; and what an administrator of a legacy-pmem machine sets in warmboot's
    configuration: the namespace handed to warmboot (docs/safety.md section 2: a memmap= region
    carries no mark of its own), before update-initramfs copies the configuration in."""
    with open(os.path.join(tree, "etc", "fstab"), "w") as fh:
        fh.write("/dev/vda / ext4 errors=remount-ro 0 1\n")
    with open(os.path.join(tree, "etc", "hostname"), "w") as fh:
        fh.write("warmboot-e2e\n")
    conf = os.path.join(tree, "etc", "warmboot", "warmboot.conf")
    with open(conf) as fh:
        text = fh.read()
    text, n = re.subn(r"(?m)^namespace =.*$", f"namespace = {PMEM_NAMESPACE}", text)
    if n != 1:
        raise SystemExit(f"e2e: no 'namespace =' line in the root's {conf}")
    with open(conf, "w") as fh:
        fh.write(text)
    # The directory Debian's prometheus-node-exporter reads text files from: warmboot writes its
    # metrics there (metrics_file) where it exists.
    os.makedirs(os.path.join(tree, "var", "lib", "prometheus", "node-exporter"), exist_ok=True)
    # Debian's kexec-tools asks (debconf) whether its kexec-load script loads a kernel at
    # reboot; the root says yes. warmboot loads the next kernel itself (its command line names
    # the image): another load at shutdown would replace it.
    kexec = os.path.join(tree, "etc", "default", "kexec")
    if os.path.exists(kexec):
        with open(kexec) as fh:
            text = fh.read()
        with open(kexec, "w") as fh:
            fh.write(re.sub(r"(?m)^LOAD_KEXEC=.*$", "LOAD_KEXEC=false", text))


def check_libraries(run):
    """Every library warmboot and warmbootd need is in the root (the base's package list names
    them; this says which one is missing when it drifts)."""
    for prog in run(["sh", "-c", "command -v warmboot warmbootd"]).split():
        out = run(["ldd", prog])
        missing = [line.strip() for line in out.splitlines() if "not found" in line]
        if missing:
            raise SystemExit(f"e2e: {prog} in the debian root lacks {missing}; add the package "
                             "to debian_base.PACKAGES")


def tree_bytes(tree):
    total = 0
    for dirpath, _, files in os.walk(tree):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


# Images kept in the cache (each about 0.8 GiB on disk: a sparse ext4 of the root).
IMAGE_KEEP = 3


def file_hash(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def image_key(base, debs, app):
    """A hash of everything an image is made of: the base root's key, the .debs, the guest
    side's files, the sample application and its sizes, and this file (how it is put together)."""
    h = hashlib.sha256()
    h.update(base.meta["key"].encode())
    for d in debs:
        h.update(f"\0deb {os.path.basename(d)} {file_hash(d)}".encode())
    for dirpath, dirnames, filenames in os.walk(GUEST):
        dirnames.sort()
        for f in sorted(filenames):
            path = os.path.join(dirpath, f)
            h.update(f"\0guest {os.path.relpath(path, GUEST)} {file_hash(path)}".encode())
    if app is not None:
        h.update(f"\0app {file_hash(app.binary)} {app.mib} {app.segments}".encode())
    h.update(f"\0harness {file_hash(__file__)}".encode())
    return h.hexdigest()[:16]


def image_from_cache(cached, work, t0):
    """The cached image copied into `work` (each run boots its own copy: a boot writes to it)."""
    with open(os.path.join(cached, "image.json")) as fh:
        meta = json.load(fh)
    disk = os.path.join(work, "root.ext4")
    sh(["cp", "--sparse=always", os.path.join(cached, "root.ext4"), disk])
    files = {}
    for f in ("vmlinuz", "initrd.img"):
        files[f] = os.path.join(work, f"{f}-{meta['release']}")
        shutil.copy2(os.path.join(cached, f), files[f])
    seconds = time.monotonic() - t0
    say(f"debian root: image {os.path.relpath(disk, ROOT)} from the cache "
        f"({os.path.basename(cached)}) in {seconds:.0f} s; warmboot from {meta['installed']}")
    return DebianImage(disk, files["vmlinuz"], files["initrd.img"], meta["release"],
                       meta["installed"], seconds, meta["listing"])


def image_to_cache(cached, image):
    """Keeps a copy of `image` under `cached` (written aside, then renamed), and only the
    IMAGE_KEEP most recently used images beside it."""
    tmp = cached + ".tmp"
    remove_tree(tmp)
    os.makedirs(tmp)
    sh(["cp", "--sparse=always", image.disk, os.path.join(tmp, "root.ext4")])
    shutil.copy2(image.vmlinuz, os.path.join(tmp, "vmlinuz"))
    shutil.copy2(image.initrd, os.path.join(tmp, "initrd.img"))
    with open(os.path.join(tmp, "image.json"), "w") as fh:
        json.dump({"release": image.release, "installed": image.installed,
                   "listing": image.initramfs_files}, fh)
    remove_tree(cached)
    os.rename(tmp, cached)
    parent = os.path.dirname(cached)
    kept = sorted((p for p in glob.glob(os.path.join(parent, "*"))
                   if os.path.isdir(p) and not p.endswith(".tmp")),
                  key=os.path.getmtime, reverse=True)
    for old in kept[IMAGE_KEEP:]:
        remove_tree(old)


def build_image(base, programs, build_dir, name="debian-root", app=None):
    """The disk image of one run from `base` (a debian_base.BaseRoot); with `app` (a SampleApp)
    debian-warm's application installed. Cached outside the clone by a hash of its inputs
    (image_key): a machine builds each image once, and every run boots a copy of it."""
    t0 = time.monotonic()
    work = os.path.join(WORK, name)
    tree = os.path.join(work, "tree")
    remove_tree(work)
    os.makedirs(work)
    debs = find_debs()
    if not debs:
        raise SystemExit(f"e2e: no warmboot .debs in {DEBS_DIR}: build them first "
                         "(scripts/deb; scripts/test does)")
    check_debs_tree()
    cached = os.path.join(cache_root(), "debian-image", image_key(base, debs, app))
    if os.path.exists(os.path.join(cached, "image.json")):
        os.utime(cached)  # in use: kept
        return image_from_cache(cached, work, t0)
    tc = time.monotonic()
    sh(["cp", "-a", "--reflink=auto", base.tree, tree])
    t_copy = time.monotonic() - tc
    t1 = time.monotonic()
    policy = os.path.join(tree, "usr", "sbin", "policy-rc.d")
    with chroot(tree) as run:
        # Maintainer scripts must not start services: this is not the machine they run on.
        with open(policy, "w") as fh:
            fh.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
        installed = install_debs(run, tree, debs)
        check_libraries(run)
        install_guest(run, tree)
        if app is not None:
            install_sample_app(run, tree, app)
        configure(tree)
        os.unlink(policy)
        t_install = time.monotonic() - t1
        t2 = time.monotonic()
        run(["update-initramfs", "-u", "-k", "all"])
        t_initramfs = time.monotonic() - t2
        release = base.meta["kernel"]
        listing = run(["lsinitramfs", f"/boot/initrd.img-{release}"])
    for mod in ("virtio_blk", "ext4"):  # what mounting the root needs (MODULES=most has them)
        if f"/{mod}.ko" not in listing:
            raise SystemExit(f"e2e: the root's initramfs has no {mod}.ko")
    # The kernel and initramfs a user's boot loader would load: /boot's, after update-initramfs.
    vmlinuz = os.path.join(work, "vmlinuz-" + release)
    initrd = os.path.join(work, "initrd.img-" + release)
    shutil.copy2(os.path.join(tree, "boot", "vmlinuz-" + release), vmlinuz)
    shutil.copy2(os.path.join(tree, "boot", "initrd.img-" + release), initrd)
    disk = os.path.join(work, "root.ext4")
    size = (tree_bytes(tree) * 5 // 4 + SPARE_BYTES) // MIB
    t3 = time.monotonic()
    sh(["mkfs.ext4", "-q", "-F", "-L", "wb-root", "-d", tree, disk, f"{size}M"])
    t_mkfs = time.monotonic() - t3
    remove_tree(tree)  # the image has it all; half a gigabyte less under build/
    seconds = time.monotonic() - t0
    rest = seconds - t_copy - t_install - t_initramfs - t_mkfs
    say(f"debian root: image {os.path.relpath(disk, ROOT)} ({size} MiB, sparse) in "
        f"{seconds:.0f} s: copy {t_copy:.0f} s, install {t_install:.0f} s, update-initramfs "
        f"{t_initramfs:.0f} s, mkfs {t_mkfs:.0f} s, the rest (the last run's files deleted, "
        f"lsinitramfs, the tree's size) {rest:.0f} s; warmboot from {installed}")
    image = DebianImage(disk, vmlinuz, initrd, release, installed, seconds, listing.split())
    image_to_cache(cached, image)
    return image
