"""The guest's initramfs: busybox, kmod, warmboot, the sample app and the tools with their
libraries, the kernel modules the test needs, the kernel itself (for kexec), the guest scripts
and warmboot's configuration, as a gzip'd cpio archive written by the harness itself."""

import gzip
import io
import os
import re
import shutil
import stat
import subprocess

from .common import HERE, MIB, WORK, say, sh

MODULES = ["libnvdimm", "nd_pmem", "nd_btt", "nd_e820", "dax_pmem", "device_dax", "kmem", "nfit",
           # Fault injection (offline-refused, sigterm-offline): loaded by the scenarios, not /init.
           "memory-notifier-error-inject"]


class Cpio:
    """A cpio newc archive written directly (so device nodes need no root)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1000

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        name_b = name.encode() + b"\0"
        self.ino += 1
        hdr = "070701" + "".join(f"{v:08x}" for v in [
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0])
        self.buf.write(hdr.encode() + name_b)
        self.buf.write(b"\0" * ((4 - (110 + len(name_b)) % 4) % 4))
        self.buf.write(data)
        self.buf.write(b"\0" * ((4 - len(data) % 4) % 4))

    def add_tree(self, root):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, root)
            if rel != ".":
                self._entry(rel, stat.S_IFDIR | 0o755)
            for f in sorted(filenames) + sorted(d for d in dirnames
                                                if os.path.islink(os.path.join(dirpath, d))):
                p = os.path.join(dirpath, f)
                relp = os.path.normpath(os.path.join(rel, f))
                st = os.lstat(p)
                if stat.S_ISLNK(st.st_mode):
                    self._entry(relp, stat.S_IFLNK | 0o777, os.readlink(p).encode())
                else:
                    with open(p, "rb") as fh:
                        self._entry(relp, stat.S_IFREG | (st.st_mode & 0o7777), fh.read())

    def add_node(self, name, major, minor, mode=0o600):
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def finish(self):
        self._entry("TRAILER!!!", 0)
        return self.buf.getvalue()


def copy_libs(binary, dest_root, seen):
    """Copies every library ldd lists for `binary` to the same path under dest_root."""
    paths = []
    out = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True).stdout
    for line in out.splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
        if m:
            paths.append(m.group(1))
    for p in paths:
        if p in seen:
            continue
        seen.add(p)
        target = os.path.join(dest_root, p.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.realpath(p), target)
        # The loader finds libraries under /lib/x86_64-linux-gnu and /usr/lib/...: both exist.


def build_initramfs(kernel, programs):
    """The archive for `kernel` (a kernel.Kernel) with `programs` ({name: path}, build.py's) as
    build/e2e-work/initramfs.cpio.gz."""
    kdir, kver, vmlinuz = kernel.root, kernel.release, kernel.vmlinuz
    say("building the initramfs")
    stage = os.path.join(WORK, "rootfs")
    shutil.rmtree(stage, ignore_errors=True)
    for d in ["bin", "sbin", "usr/bin", "usr/sbin", "etc/warmboot", "proc", "sys", "dev", "run",
              "tmp", "root", "boot", "e2e", "lib64", "lib/x86_64-linux-gnu"]:
        os.makedirs(os.path.join(stage, d), exist_ok=True)
    seen = set()
    # busybox and its applets; kmod's modprobe family instead of busybox's.
    busybox = shutil.which("busybox")
    shutil.copy2(busybox, os.path.join(stage, "bin/busybox"))
    copy_libs(busybox, stage, seen)  # nothing for busybox-static
    kmod_names = {"modprobe", "insmod", "rmmod", "lsmod", "depmod", "modinfo"}
    for applet in sh([busybox, "--list-full"]).split():
        name = os.path.basename(applet)
        if name in kmod_names or name in ("init", "linuxrc") or applet == "bin/busybox":
            continue
        link = os.path.join(stage, applet)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if not os.path.lexists(link):
            os.symlink("/bin/busybox", link)
    kmod = shutil.which("kmod") or "/bin/kmod"
    kmod_in = "/bin/kmod"
    shutil.copy2(os.path.realpath(kmod), os.path.join(stage, "bin/kmod"))
    copy_libs(kmod, stage, seen)
    for n in kmod_names:
        link = os.path.join(stage, "sbin", n)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(kmod_in, link)
    # warmboot, warmbootd, the sample applications, and the tools.
    for name, path in programs.items():
        shutil.copy2(path, os.path.join(stage, "usr/bin", name))
        copy_libs(path, stage, seen)
    for tool, required in [("kexec", True), ("ndctl", False), ("daxctl", False)]:
        p = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
        if p is None:
            if required:
                raise SystemExit(f"e2e: {tool} not found (scripts/install-deps installs it)")
            say(f"note: {tool} not found; left out of the initramfs")
            continue
        p = os.path.realpath(p)
        copy_libs(p, stage, seen)
        dest = os.path.join(stage, "usr/sbin" if "sbin" in p else "usr/bin", os.path.basename(p))
        if not os.path.exists(dest):
            shutil.copy2(p, dest)
    # Kernel modules with their dependencies.
    mods = set()
    for m in MODULES:
        out = sh(["modprobe", "-C", "/dev/null", "-d", kdir, "-S", kver, "--show-depends", m])
        for line in out.splitlines():
            if line.startswith("insmod "):
                mods.add(line.split()[1])
    # The guest's modprobe is this kmod: it must read the modules as packaged (.ko.xz from ~6.13).
    feats = sh([kmod, "--version"]).split()
    for ext in sorted({os.path.splitext(p)[1] for p in mods} - {".ko"}):
        need = {".xz": "+XZ", ".zst": "+ZSTD", ".gz": "+ZLIB"}.get(ext)
        if need not in feats:
            raise SystemExit(f"e2e: kernel {kver} has {ext} modules, which {kmod} cannot load "
                             f"(kmod --version: {' '.join(feats)})")
    mdir = os.path.join("lib", "modules", kver)
    for p in mods:
        rel = os.path.relpath(p, kdir)
        os.makedirs(os.path.join(stage, os.path.dirname(rel)), exist_ok=True)
        shutil.copy2(p, os.path.join(stage, rel))
    for f in ["modules.builtin", "modules.builtin.modinfo", "modules.order"]:
        src = os.path.join(kdir, mdir, f)
        if os.path.exists(src):
            shutil.copy2(src, os.path.join(stage, mdir, f))
    sh(["depmod", "-b", stage, kver])
    # The kernel for kexec, the scripts, the configuration.
    shutil.copy2(vmlinuz, os.path.join(stage, "boot", "vmlinuz-" + kver))
    shutil.copy2(os.path.join(HERE, "guest", "init"), os.path.join(stage, "init"))
    os.chmod(os.path.join(stage, "init"), 0o755)
    for f in ["lib.sh", "scenarios.sh"]:
        shutil.copy2(os.path.join(HERE, "guest", f), os.path.join(stage, "e2e", f))
    with open(os.path.join(stage, "etc/warmboot/warmboot.conf"), "w") as fh:
        # The namespace is handed to warmboot by name: warmboot acts only on its own.
        fh.write("namespace = namespace0.0\n"
                 "state_dir = /run/warmboot/state\nrestore_dir = /run/warmboot/restore\n"
                 "report_dir = /run/warmboot/reports\ncompression = auto\n")
    cpio = Cpio()
    cpio.add_tree(stage)
    cpio.add_node("dev/console", 5, 1, 0o600)
    cpio.add_node("dev/null", 1, 3, 0o666)
    data = cpio.finish()
    path = os.path.join(WORK, "initramfs.cpio.gz")
    with open(path, "wb") as fh:
        fh.write(gzip.compress(data, compresslevel=1))
    say(f"initramfs: {len(data) / MIB:.1f} MiB ({os.path.getsize(path) / MIB:.1f} MiB gzip), "
        f"{len(mods)} modules, kernel {kver}")
    return path
