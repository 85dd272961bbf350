"""Running commands inside a directory tree with chroot: /proc, /sys and /dev mounted in it for
the time of a `with` block and unmounted in its finally; and deleting such a tree safely."""

import contextlib
import os
import shutil
import subprocess

from .common import say, sh

# What the tools run inside need: update-initramfs reads /proc and /sys (modules, the root's
# device) and makes device nodes in its archive from /dev; dpkg and apt log through a pty.
BINDS = (("proc", ["-t", "proc", "proc"]), ("sys", ["-t", "sysfs", "sysfs"]),
         ("dev", ["--bind", "/dev"]), ("dev/pts", ["--bind", "/dev/pts"]))


def mounts_under(path):
    """Mount points at or below `path`, deepest first: a tree must have none before it is
    deleted, or rmtree would reach through a bind mount into the host's /dev."""
    path = os.path.realpath(path)
    out = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            mp = line.split()[4].replace("\\040", " ")
            if mp == path or mp.startswith(path + "/"):
                out.append(mp)
    return sorted(out, key=len, reverse=True)


def unmount_all(path):
    for mp in mounts_under(path):
        subprocess.run(["umount", mp], check=False)
    for mp in mounts_under(path):  # still busy: detach it, so that nothing stays reachable
        subprocess.run(["umount", "-l", mp], check=False)
    left = mounts_under(path)
    if left:
        raise SystemExit(f"e2e: cannot unmount {left}")


def remove_tree(path):
    """rmtree, after unmounting whatever a killed run left mounted below it."""
    if mounts_under(path):
        say(f"note: unmounting what an earlier run left mounted under {path}")
        unmount_all(path)
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def chroot(tree):
    """`with chroot(tree) as run: run([...])`: run() executes a command inside `tree` (chroot,
    with a plain environment) and returns its output, failing loudly."""
    tree = os.path.realpath(tree)
    try:
        for name, how in BINDS:
            target = os.path.join(tree, name)
            os.makedirs(target, exist_ok=True)
            sh(["mount"] + how + [target])
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "DEBIAN_FRONTEND": "noninteractive", "HOME": "/root"}
        yield lambda cmd: sh(["chroot", tree] + cmd, env=env)
    finally:
        unmount_all(tree)
