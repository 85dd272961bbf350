"""The guest's kernel: Debian's kernel packages of one suite, downloaded once into a cache outside
the clone, unpacked with dpkg -x, and their modules indexed with depmod.

Suites (--kernel-suite):
  bookworm            the default: Debian 12's own kernel, the package linux-image-amd64 depends
                      on, found through the machine's own apt configuration;
  bookworm-backports  newer kernels, reached through a private apt configuration in the cache:
  sid                 a sources list naming the mirror this machine already uses with that suite,
                      private lists and caches. The machine's sources are never touched.

From about 6.13 Debian splits the kernel: linux-image-VER is nearly empty and depends on
linux-binary-VER (vmlinuz under /usr/lib/modules/VER/), linux-modules-VER (the modules, .ko.xz,
under /usr/lib/modules/VER/kernel) and linux-base-VER (config, System.map, modules.builtin*).
Every linux-*-VER package the image depends on is fetched and unpacked into the same tree.

The cache ($WB_E2E_KERNEL_CACHE, else /var/cache/warmboot-e2e; CI runs in a fresh clone each
time, so it lives outside it), one directory per suite:
  SUITE/debs/                              the downloaded packages
  SUITE/kernel-IMAGEPACKAGE_VERSION/       unpacked and depmod'ed; kernel.json describes it
  SUITE/apt/                               the private apt configuration (not for bookworm)
A kernel not used for PRUNE_DAYS is deleted when another one of its suite is fetched.
"""

import fcntl
import glob
import json
import os
import re
import shutil
import subprocess
import time

from .common import say, sh

DEFAULT_SUITE = "bookworm"
SUITES = (DEFAULT_SUITE, "bookworm-backports", "sid")
CACHE_DEFAULT = "/var/cache/warmboot-e2e"
META = "kernel.json"
ATTEMPTS = 3  # of the whole lookup and download; apt retries each fetch itself too
RETRY_DELAY = 5  # seconds, times the attempt number
LISTS_MAX_AGE = 24 * 3600  # a private suite's package lists are refreshed after a day
PRUNE_DAYS = 14


class AptError(Exception):
    pass


class Kernel:
    """One unpacked kernel: `root` holds lib/modules/RELEASE (with modules.dep) and `vmlinuz`."""

    def __init__(self, suite, root, release, vmlinuz, packages):
        self.suite = suite
        self.root = root
        self.release = release
        self.vmlinuz = vmlinuz
        self.packages = packages  # [(name, version)], the image package first

    def describe(self):
        pkgs = ", ".join(f"{n} {v}" for n, v in self.packages)
        return f"{self.release} from {self.suite} ({pkgs})"

    @staticmethod
    def load(root):
        with open(os.path.join(root, META)) as fh:
            m = json.load(fh)
        return Kernel(m["suite"], root, m["release"], os.path.join(root, m["vmlinuz"]),
                      [tuple(p) for p in m["packages"]])


def cache_root():
    env = os.environ.get("WB_E2E_KERNEL_CACHE")
    if env:
        return os.path.abspath(env)
    try:
        os.makedirs(CACHE_DEFAULT, exist_ok=True)
        if os.access(CACHE_DEFAULT, os.W_OK):
            return CACHE_DEFAULT
    except OSError:
        pass
    home = os.path.join(os.path.expanduser("~"), ".cache", "warmboot-e2e")
    say(f"note: {CACHE_DEFAULT} is not writable; caching the kernel in {home}")
    return home


# ---------------------------------------------------------------------------------------------
# apt, with the machine's configuration or a private one.


def os_codename():
    try:
        with open("/etc/os-release") as fh:
            m = re.search(r"^VERSION_CODENAME=\"?(\w+)", fh.read(), re.M)
            return m.group(1) if m else DEFAULT_SUITE
    except OSError:
        return DEFAULT_SUITE


def configured_sources(etc="/etc/apt"):
    """(uri, suites, signed_by) of every enabled 'deb' source in /etc/apt/sources.list and
    sources.list.d (one-line .list and deb822 .sources files)."""
    out = []
    lists = [os.path.join(etc, "sources.list")] + sorted(
        glob.glob(os.path.join(etc, "sources.list.d", "*.list")))
    for path in lists:
        try:
            text = open(path).read()
        except OSError:
            continue
        for line in text.splitlines():
            m = re.match(r"\s*deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)", line.split("#", 1)[0])
            if m:
                opts = dict(o.split("=", 1) for o in (m.group(1) or "").split() if "=" in o)
                out.append((m.group(2), [m.group(3)], opts.get("signed-by")))
    for path in sorted(glob.glob(os.path.join(etc, "sources.list.d", "*.sources"))):
        try:
            text = open(path).read()
        except OSError:
            continue
        for stanza in re.split(r"\n\s*\n", text):
            fields, key = {}, None
            for line in stanza.splitlines():
                if line.startswith("#"):
                    continue
                if line[:1] in (" ", "\t") and key:
                    fields[key] += "\n" + line.strip()
                elif ":" in line:
                    key, val = line.split(":", 1)
                    key = key.strip().lower()
                    fields[key] = val.strip()
            if "deb" not in fields.get("types", "").split():
                continue
            if fields.get("enabled", "yes").lower() == "no":
                continue
            signed = fields.get("signed-by")
            if signed and "\n" in signed:  # an inline key: the keyrings in trusted.gpg.d will do
                signed = None
            for uri in fields.get("uris", "").split():
                out.append((uri, fields.get("suites", "").split(), signed))
    return out


def machine_mirror(suite):
    """(uri, signed_by) of the mirror this machine's apt sources use for its own release
    (signed_by may be None); `suite` only names what it is for in the note when none is found."""
    codename = os_codename()
    sources = configured_sources()
    pick = next((s for s in sources if codename in s[1]), None)
    if pick is None:
        pick = next((s for s in sources if any(not x.endswith("-security") for x in s[1])), None)
    if pick is None:
        uri = "http://deb.debian.org/debian"
        say(f"note: no Debian mirror found in the apt sources; using {uri} for {suite}")
        return uri, None
    uri, _, signed = pick
    return uri, signed


def private_sources_line(suite):
    """`deb [signed-by=...] MIRROR SUITE main`, MIRROR being the one this machine uses for its
    own release."""
    uri, signed = machine_mirror(suite)
    opts = f"[signed-by={signed}] " if signed else ""
    return f"deb {opts}{uri} {suite} main\n"


class Apt:
    """apt-get and apt-cache: with the machine's configuration for the default suite, else with
    a private sources list, lists and caches under CACHE/SUITE/apt. Dpkg's status and the
    machine's pins are left out of the private one: neither may change the candidate."""

    def __init__(self, suite, cdir):
        self.suite = suite
        self.private = suite != DEFAULT_SUITE
        self.opts = ["-o", "Acquire::Retries=3"]
        if not self.private:
            return
        adir = os.path.join(cdir, "apt")
        lists = os.path.join(adir, "lists")
        os.makedirs(os.path.join(lists, "partial"), exist_ok=True)
        os.makedirs(os.path.join(adir, "cache"), exist_ok=True)
        self.sources = os.path.join(adir, "sources.list")
        self.stamp = os.path.join(adir, "updated")  # touched after each successful update
        line = private_sources_line(suite)
        try:
            with open(self.sources) as fh:
                old = fh.read()
        except OSError:
            old = None
        if old != line:  # a new mirror or suite: the lists are to be fetched again
            with open(self.sources, "w") as fh:
                fh.write(line)
            if os.path.exists(self.stamp):
                os.unlink(self.stamp)
        self.opts += ["-o", f"Dir::Etc::sourcelist={self.sources}",
                      "-o", "Dir::Etc::sourceparts=/nonexistent",
                      "-o", f"Dir::State::Lists={lists}",
                      "-o", f"Dir::Cache={os.path.join(adir, 'cache')}",
                      # Some machines (container images) turn apt's binary cache off; this
                      # one is private, and without it every apt-cache call parses the lists.
                      "-o", "Dir::Cache::pkgcache=pkgcache.bin",
                      "-o", "Dir::State::status=/dev/null",
                      "-o", "Dir::Etc::preferences=/nonexistent",
                      "-o", "Dir::Etc::preferencesparts=/nonexistent"]

    def run(self, tool, *args, cwd=None):
        r = subprocess.run([tool] + self.opts + list(args), cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        return r.returncode, r.stdout

    def lists_stale(self):
        if not self.private:
            return False  # the machine's lists: updated only when a lookup fails, as always
        try:
            return time.time() - os.path.getmtime(self.stamp) > LISTS_MAX_AGE
        except OSError:
            return True

    def update(self):
        where = f"the private {self.suite} lists" if self.private else "the package lists"
        say(f"kernel: updating {where}")
        rc, out = self.run("apt-get", "update", "-qq")
        if rc != 0:
            raise AptError(f"apt-get update failed ({rc}): {tail(out)}")
        if self.private:
            with open(self.stamp, "w"):
                pass

    # One apt-cache call for many packages: each call loads every package list of the suite
    # (seconds for sid's) unless apt keeps a binary cache, which some machines turn off.

    def depends(self, pkgs):
        """{package: [the packages it Depends on]} (virtual packages left out)."""
        rc, out = self.run("apt-cache", "depends", *pkgs)
        deps, cur = {}, None
        for line in out.splitlines() if rc == 0 else []:
            if line and not line[0].isspace():
                cur = deps.setdefault(line.strip(), [])
            elif cur is not None:
                m = re.match(r"\s*\|?Depends:\s*([^\s<]\S*)", line)
                if m:
                    cur.append(m.group(1))
        return deps

    def candidates(self, pkgs):
        """[the version apt would install of each package]."""
        rc, out = self.run("apt-cache", "policy", *pkgs)
        found = dict(re.findall(r"^(\S+):\n(?:\s+Installed:.*\n)?\s+Candidate:\s*(\S+)", out,
                                re.M))
        missing = [p for p in pkgs if found.get(p, "(none)") == "(none)"]
        if rc != 0 or missing:
            raise AptError(f"no candidate for {' '.join(missing) or pkgs} in {self.suite}")
        return [found[p] for p in pkgs]

    def download(self, pkgs, dest):
        """apt-get download NAME=VERSION... into dest (through a scratch directory, so that an
        interrupted download leaves nothing behind that looks cached)."""
        scratch = os.path.join(dest, ".download")
        shutil.rmtree(scratch, ignore_errors=True)
        os.makedirs(scratch)
        rc, out = self.run("apt-get", "download", *[f"{n}={v}" for n, v in pkgs], cwd=scratch)
        if rc != 0:
            shutil.rmtree(scratch, ignore_errors=True)
            raise AptError(f"apt-get download failed ({rc}): {tail(out)}")
        for f in os.listdir(scratch):
            if f.endswith(".deb"):
                os.replace(os.path.join(scratch, f), os.path.join(dest, f))
        shutil.rmtree(scratch, ignore_errors=True)


def tail(out, n=3):
    return " | ".join(line.strip() for line in out.strip().splitlines()[-n:])


# ---------------------------------------------------------------------------------------------
# The kernel: which packages, download, unpack.


def resolve(apt):
    """[(name, version)]: the image package linux-image-amd64 depends on, then every
    linux-*-VER package it depends on (the split packages from ~6.13; none before)."""
    meta = "linux-image-amd64"
    image = next((d for d in apt.depends([meta]).get(meta, [])
                  if d.startswith("linux-image-") and d != meta), None)
    if image is None:
        raise AptError(f"'apt-cache depends {meta}' names no kernel image in {apt.suite}")
    suffix = "-" + image[len("linux-image-"):]
    names, todo = [image], [image]
    while todo:
        todo = [d for deps in apt.depends(todo).values() for d in deps
                if d.startswith("linux-") and d.endswith(suffix) and d not in names]
        todo = list(dict.fromkeys(todo))
        names += todo
    return list(zip(names, apt.candidates(names)))


def deb_path(ddir, name, version):
    hits = glob.glob(os.path.join(ddir, glob.escape(f"{name}_{version.replace(':', '%3a')}_")
                                  + "*.deb"))
    return hits[0] if hits else None


def download(apt, pkgs, cdir):
    ddir = os.path.join(cdir, "debs")
    os.makedirs(ddir, exist_ok=True)
    missing = [(n, v) for n, v in pkgs if deb_path(ddir, n, v) is None]
    if missing:
        say(f"downloading {', '.join(n for n, _ in missing)}")
        apt.download(missing, ddir)
    debs = [deb_path(ddir, n, v) for n, v in pkgs]
    if None in debs:
        raise AptError(f"apt-get download left out {[n for (n, _), d in zip(pkgs, debs) if not d]}")
    return debs


def unpack(suite, cdir, pkgs, debs):
    """dpkg -x of every package into one tree, lib/modules made to hold the modules (merged-/usr
    packages put them in usr/lib/modules, where Debian 12's depmod and modprobe do not look),
    then depmod. The tree is built beside its final name and renamed when complete."""
    image, version = pkgs[0]
    kdir = os.path.join(cdir, f"kernel-{image}_{version.replace(':', '%3a')}")
    if os.path.exists(os.path.join(kdir, META)):
        return Kernel.load(kdir)
    say(f"unpacking {', '.join(os.path.basename(d) for d in debs)}")
    tmp = kdir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(kdir, ignore_errors=True)
    for deb in debs:
        sh(["dpkg", "-x", deb, tmp])
    mods = os.path.join(tmp, "lib", "modules")
    if not os.path.isdir(mods) and os.path.isdir(os.path.join(tmp, "usr", "lib", "modules")):
        os.makedirs(os.path.dirname(mods), exist_ok=True)
        os.symlink("../usr/lib/modules", mods)
    releases = sorted(d for d in os.listdir(mods) if os.path.isdir(os.path.join(mods, d)))
    if len(releases) != 1:
        raise SystemExit(f"e2e: {image}: expected one release in lib/modules, found {releases}")
    kver = releases[0]
    vmlinuz = next((p for p in [os.path.join("boot", "vmlinuz-" + kver),
                                os.path.join("lib", "modules", kver, "vmlinuz")]
                    if os.path.isfile(os.path.join(tmp, p))), None)
    if vmlinuz is None:
        raise SystemExit(f"e2e: {image}: no vmlinuz for {kver} in {[p for p, _ in pkgs]}")
    sh(["depmod", "-b", tmp, kver])
    with open(os.path.join(tmp, META), "w") as fh:
        json.dump({"suite": suite, "release": kver, "vmlinuz": vmlinuz,
                   "packages": [list(p) for p in pkgs]}, fh, indent=1)
    os.rename(tmp, kdir)
    return Kernel.load(kdir)


def newest_cached(cdir):
    roots = [d for d in glob.glob(os.path.join(cdir, "kernel-*"))
             if os.path.exists(os.path.join(d, META))]
    if not roots:
        return None
    return Kernel.load(max(roots, key=os.path.getmtime))


def prune(cdir, keep):
    """Deletes the suite's kernels (trees and packages) unused for PRUNE_DAYS; `keep` is in use.
    Every use touches its tree and packages."""
    now = time.time()
    keep_debs = set()
    for p in [keep.root] + [deb for deb in glob.glob(os.path.join(cdir, "debs", "*.deb"))
                            if any(os.path.basename(deb).startswith(n + "_")
                                   for n, _ in keep.packages)]:
        os.utime(p)
        keep_debs.add(p)
    for p in glob.glob(os.path.join(cdir, "kernel-*")) + glob.glob(os.path.join(cdir, "debs",
                                                                                "*.deb")):
        if p == keep.root or p in keep_debs or now - os.path.getmtime(p) < PRUNE_DAYS * 86400:
            continue
        say(f"kernel: removing {os.path.basename(p)} (unused for {PRUNE_DAYS} days)")
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            os.unlink(p)


def fetch_kernel(suite=DEFAULT_SUITE):
    """The kernel of `suite`, downloaded and unpacked once into the cache. Lookups and
    downloads that fail are retried after refreshing the package lists; when every attempt
    fails, the suite's newest cached kernel is used (with a note) if there is one."""
    cdir = os.path.join(cache_root(), suite)
    os.makedirs(cdir, exist_ok=True)
    with open(os.path.join(cdir, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run fetching the same suite waits here
        apt = Apt(suite, cdir)
        if apt.lists_stale():
            try:
                apt.update()
            except AptError as e:  # the old lists (if any) may still do
                say(f"kernel: {e}")
        kernel, err = None, None
        for attempt in range(1, ATTEMPTS + 1):
            try:
                pkgs = resolve(apt)
                kernel = unpack(suite, cdir, pkgs, download(apt, pkgs, cdir))
                break
            except AptError as e:
                err = e
                if attempt == ATTEMPTS:
                    break
                say(f"kernel: {e}; retrying in {RETRY_DELAY * attempt} s with fresh package "
                    f"lists ({attempt}/{ATTEMPTS - 1})")
                time.sleep(RETRY_DELAY * attempt)
                try:
                    apt.update()
                except AptError as e2:
                    say(f"kernel: {e2}")
        if kernel is None:
            kernel = newest_cached(cdir)
            if kernel is None:
                raise SystemExit(f"e2e: no {suite} kernel: {err}; none cached in {cdir}")
            say(f"kernel: {err}; using the newest cached one")
        prune(cdir, kernel)
    say(f"kernel: {kernel.describe()}")
    return kernel
