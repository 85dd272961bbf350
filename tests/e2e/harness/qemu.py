"""Running QEMU and reading its serial console: Qemu starts one machine, stamps every console
line with the host time, enforces the timeouts (and an optional trigger, the power cut) and
hands the lines to Boot, which parses the guest's WB-E2E protocol (tests/e2e/README.md, "The
console protocol"): steps, memory marks, JSON documents, results and the kernel logs."""

import json
import os
import re
import signal
import subprocess
import time

from .common import LOGS, ROOT, say


MARK_RE = re.compile(r"WB-E2E(-[A-Z-]+)? ?(.*)")
KERNEL_PROBLEM_RE = re.compile(
    r"WARNING:|BUG:|Oops|Call Trace|general protection|kernel panic|hung_task|"
    r"blocked for more than|page allocation failure|unable to handle|segfault|"
    r"Memory offline failed|memory leak|RIP:")
KV_RE = re.compile(r"(\w[\w-]*)=(\S*)")


class Boot:
    """What one QEMU process printed, parsed: markers, JSON documents, per-kernel grouping."""

    def __init__(self):
        self.lines = []  # (host seconds since QEMU start, text)
        self.events = []  # dicts: kind, host_t, fields
        self.json = {}  # name -> {"doc", "rc", "host_t"}
        self.result = None
        self.dmesg = []  # (stage, [lines]) per kernel log dumped by the guest
        self._dmesg = None
        self._json_name = None
        self._json_lines = []
        self._json_t = 0
        self._outer = []  # documents a nested one was printed inside

    def feed(self, host_t, line):
        self.lines.append((host_t, line))
        i = line.find("WB-E2E")
        if self._dmesg is not None:
            if i < 0:
                self._dmesg[1].append(line)
                return
            self._dmesg = None  # the END marker (or, if it never came, the next marker)
            if line[i:].startswith("WB-E2E-DMESG-END"):
                return
        if i >= 0 and line[i:].startswith("WB-E2E-DMESG-BEGIN"):
            m = re.search(r"stage=(\S+)", line)
            self._dmesg = (m.group(1) if m else "?", [])
            self.dmesg.append(self._dmesg)
            return
        if self._json_name is not None:
            if i >= 0 and line[i:].startswith("WB-E2E-JSON-END"):
                self._finish_json(line[i:])
                if self._outer:
                    # Back to the document this one was printed inside.
                    (self._json_name, self._json_lines, self._json_t,
                     self._json_end_t) = self._outer.pop()
                return
            if i >= 0 and line[i:].startswith("WB-E2E-JSON-BEGIN"):
                # A whole document printed while a command's is open (an application's answer
                # while preserve runs, its report still to come): it nests.
                self._outer.append((self._json_name, self._json_lines, self._json_t,
                                    self._json_end_t))
                self._json_name = None
            elif i >= 0 or "Linux version" in line:
                self._finish_json(None)  # no END: the command kexec'd
            else:
                self._json_lines.append(line)
                self._json_end_t = host_t
                return
        if i < 0:
            return
        m = MARK_RE.match(line[i:])
        kind = (m.group(1) or "").lstrip("-") or "MARK"
        fields = dict(KV_RE.findall(m.group(2)))
        if kind == "JSON-BEGIN":
            self._json_name = fields.get("name", "?")
            self._json_lines = []
            self._json_t = self._json_end_t = host_t
            return
        if kind == "JSON-END":
            return
        if "reason=" in m.group(2):
            fields["reason"] = m.group(2).split("reason=", 1)[1]
        ev = {"kind": kind, "host_t": host_t, **fields}
        self.events.append(ev)
        if "result" in fields:
            self.result = ev

    def _finish_json(self, end_line):
        text = "\n".join(self._json_lines)
        doc = None
        try:
            start = text.find("{")
            if start >= 0:
                doc, _ = json.JSONDecoder().raw_decode(text[start:])
        except json.JSONDecodeError:
            doc = None
        rc = None
        if end_line:
            m = re.search(r"rc=(-?\d+)", end_line)
            rc = int(m.group(1)) if m else None
        self.json[self._json_name] = {"doc": doc, "rc": rc, "host_t": self._json_t,
                                      "end_t": self._json_end_t, "text": text}
        self._json_name = None

    def kernel_problems(self):
        """Warnings, oopses and the like in the dumped kernel logs."""
        out = []
        for stage, lines in self.dmesg:
            for k, line in enumerate(lines):
                if KERNEL_PROBLEM_RE.search(line):
                    out.append(f"stage {stage}: {line.strip()}")
        return out

    def steps(self):
        return [e for e in self.events if "step" in e]

    def step(self, name):
        for e in self.events:
            if e.get("step") == name:
                return e
        return None

    def mem(self, name):
        for e in self.events:
            if e["kind"] == "MARK" and e.get("name") == name and "memtotal_kb" in e:
                return e
        return None


class Qemu:
    def __init__(self, name, machine_args, cmdline, kernel, initrd, boot_timeout, total_timeout,
                 accel="tcg"):
        self.name = name
        self.log_raw = os.path.join(LOGS, name + ".serial.raw")
        self.log = os.path.join(LOGS, name + ".serial.log")
        # WB_E2E_SYSRQ=1 (a diagnosis aid): when the console falls silent after the
        # initramfs's last step, the kernel is asked for its stacks (sysrq w, l, t) through
        # the QEMU monitor, to show where a stalled boot waits.
        self.sysrq = os.path.join(LOGS, name + ".monitor") if os.environ.get(
            "WB_E2E_SYSRQ") else None
        if self.sysrq:
            cmdline += " sysrq_always_enabled"
        monitor = f"unix:{self.sysrq},server=on,wait=off" if self.sysrq else "none"
        self.cmd = (["qemu-system-x86_64", "-accel", accel, "-smp", "2"] + machine_args +
                    ["-kernel", kernel, "-initrd", initrd, "-append", cmdline,
                     "-display", "none", "-monitor", monitor, "-no-reboot", "-nic", "none",
                     "-serial", "file:" + self.log_raw])
        self.boot_timeout = boot_timeout
        self.total_timeout = total_timeout
        self.boot = Boot()
        self.killed_by = None
        self.exit_code = None
        self.seconds = 0

    def run(self, trigger=None):
        """Runs QEMU to its end, feeding the console to self.boot. `trigger(qemu, boot)` is
        polled and may return a reason to kill QEMU (the power cut)."""
        for p in (self.log_raw, self.log):
            if os.path.exists(p):
                os.unlink(p)
        open(self.log_raw, "wb").close()
        with open(os.path.join(LOGS, self.name + ".cmd"), "w") as fh:
            fh.write(" ".join(self.cmd) + "\n")
        say(f"{self.name}: starting QEMU")
        start = time.monotonic()
        proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        pos, pending, boot_start, nboot = 0, b"", start, 1
        last_line, last_text, last_sysrq, full_dumps = start, "", 0.0, 0
        try:
            with open(self.log_raw, "rb") as fh:
                while True:
                    done = proc.poll() is not None
                    fh.seek(pos)
                    chunk = fh.read()
                    pos += len(chunk)
                    pending += chunk
                    now = time.monotonic()
                    *lines, pending = pending.split(b"\n")
                    for raw in lines:
                        line = raw.decode("utf-8", "replace").replace("\r", "")
                        last_line = now
                        if "init-bottom" in line:
                            last_text = "init-bottom"
                        elif "Welcome to" in line:
                            last_text = ""
                        n_before = len(self.boot.events)
                        self.boot.feed(now - start, line)
                        for ev in self.boot.events[n_before:]:
                            self._echo(ev)
                            if ev.get("step") == "boot":
                                boot_start = now
                                nboot += 1 if ev.get("stage", "1") != "1" else 0
                    if done:
                        if pending:
                            self.boot.feed(now - start, pending.decode("utf-8", "replace"))
                        break
                    # At most 6 asks a run: at a low loglevel only sysrq's header reaches the
                    # console, so it falls silent again, and the dumps would wrap the kernel log.
                    if (self.sysrq and "init-bottom" in last_text and now - last_line > 5 and
                            now - last_sysrq > 5 and full_dumps < 6):
                        last_sysrq = now
                        keys = "wl" + ("t" if full_dumps < 2 else "")
                        full_dumps += 1
                        self._sysrq(keys)
                    reason = None
                    if now - boot_start > self.boot_timeout:
                        reason = f"boot timeout: no progress within {self.boot_timeout} s"
                    elif now - start > self.total_timeout:
                        reason = f"run timeout ({self.total_timeout} s)"
                    elif trigger is not None:
                        reason = trigger(self, self.boot)
                    if reason:
                        self.killed_by = reason
                        say(f"{self.name}: killing QEMU: {reason}")
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
                        continue
                    time.sleep(0.2)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.exit_code = proc.returncode
        self.seconds = time.monotonic() - start
        qemu_out = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
        if qemu_out.strip():
            say(f"{self.name}: QEMU said: {qemu_out.strip()}")
        with open(self.log_raw, "rb") as src, open(self.log, "w") as dst:
            dst.write(src.read().decode("utf-8", "replace").replace("\r", ""))
        # The same lines with the host time each was seen: where the time went between two.
        with open(os.path.join(LOGS, self.name + ".serial.timed.log"), "w") as dst:
            dst.writelines(f"{t:8.2f} {line}\n" for t, line in self.boot.lines)
        os.unlink(self.log_raw)
        say(f"{self.name}: QEMU ended after {self.seconds:.1f} s (exit {self.exit_code}); "
            f"serial log {os.path.relpath(self.log, ROOT)}")
        return self.boot

    def _sysrq(self, keys):
        import socket
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(self.sysrq)
                for k in keys:
                    s.sendall(f"sendkey alt-sysrq-{k}\n".encode())
                    time.sleep(0.3)
            say(f"{self.name}: console silent after init-bottom: asked for sysrq {keys}")
        except OSError as e:
            say(f"{self.name}: sysrq through the monitor failed: {e}")

    def _echo(self, ev):
        if "step" in ev:
            ok = ev.get("ok") == "1"
            extra = " ".join(f"{k}={v}" for k, v in ev.items()
                             if k not in ("kind", "host_t", "step", "ok", "t", "start"))
            say(f"{self.name}:   {'ok ' if ok else 'FAIL'} {ev['step']:<28} {extra}")
        elif "result" in ev:
            say(f"{self.name}:   result={ev['result']} {ev.get('reason', '')}")
