"""Builds the two programs the guest runs: warmboot and the sample application (Release)."""

import os

from .common import ROOT, say, sh


def build_warmboot(build_dir):
    say(f"building warmboot (Release) in {os.path.relpath(build_dir, ROOT)}")
    sh(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
        "-DWARMBOOT_TESTS=OFF", "-DWARMBOOT_BENCH=OFF", "-DWARMBOOT_E2E=ON"])
    sh(["cmake", "--build", build_dir, "-j", str(os.cpu_count() or 2),
        "--target", "warmboot", "warmboot-sample-app"])
    return (os.path.join(build_dir, "warmboot"),
            os.path.join(build_dir, "tests", "e2e", "warmboot-sample-app"))


def binaries(build_dir, build=True):
    """(warmboot, sample app): built first, or (build=False, --no-build) as already built."""
    if build:
        return build_warmboot(build_dir)
    return (os.path.join(build_dir, "warmboot"),
            os.path.join(build_dir, "tests", "e2e", "warmboot-sample-app"))
