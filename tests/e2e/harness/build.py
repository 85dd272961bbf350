"""Builds the programs the guest runs: warmboot, warmbootd and the two sample applications
(Release)."""

import os

from .common import ROOT, say, sh

# name -> where the build puts it, under the build directory.
PROGRAMS = {
    "warmboot": "warmboot",
    "warmbootd": os.path.join("daemon", "warmbootd"),
    "warmboot-sample-app": os.path.join("tests", "e2e", "warmboot-sample-app"),
    "warmboot-api-app": os.path.join("tests", "e2e", "warmboot-api-app"),
}


def build_warmboot(build_dir):
    say(f"building warmboot (Release) in {os.path.relpath(build_dir, ROOT)}")
    sh(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
        "-DWARMBOOT_TESTS=OFF", "-DWARMBOOT_BENCH=OFF", "-DWARMBOOT_E2E=ON"])
    sh(["cmake", "--build", build_dir, "-j", str(os.cpu_count() or 2), "--target", *PROGRAMS])


def binaries(build_dir, build=True):
    """{name: path} of the programs: built first, or (build=False, --no-build) as already
    built."""
    if build:
        build_warmboot(build_dir)
    return {name: os.path.join(build_dir, rel) for name, rel in PROGRAMS.items()}
