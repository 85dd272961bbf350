"""The blackout of a warm reboot of the Debian root, timed from the serial console (each line
stamped with host time as QEMU wrote it): from the first service stopping to the application
ready again in the next kernel, cut into phases at console lines every boot prints (systemd's
status lines, the system-shutdown hook, initramfs-tools' first line, the initramfs's warmboot
line, the application's markers). The preserve's own phases come from its report
(history_dir/last-preserve.json, read in the next boot); the initramfs restore's time from the
line it prints. Phases that are warmboot's are marked: the goal (issue 11) is that they take
under 30 % of the blackout."""

import re

ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
# The first console line of every kernel's initramfs (initramfs-tools' init): kexec and the
# kernel's own boot end here (at loglevel 4 the kernel itself prints nothing).
KERNEL_START = "Loading, please wait..."
# warmboot-preserve.service (systemd shortens long names in the middle: match either end).
PRESERVE_RE = r"(warmboot-preserve|at a warm reboot)"
# warmboot's system-shutdown hook as it jumps (a reboot made warm on systemd 252).
HOOK_JUMP_RE = r"warmboot: the state is sealed: rebooting into the next kernel with kexec"
# warmboot-prepare.service, by its description.
PREPARE_RE = r"(warmboot-prepare|before they stop)"
INITRAMFS_RE = re.compile(r"(warmboot: (warm|cold|failed-warm) boot: .*)\(initramfs ([\d.]+) s: "
                          r"pmem probed in ([\d.]+) s, restore ([\d.]+) s")


def plain(line):
    return ANSI_RE.sub("", line).strip()


def kernel_starts(boot):
    """Host times at which each kernel of this QEMU run reached its initramfs."""
    return [t for t, line in boot.lines if line.strip() == KERNEL_START]


def in_kernel(boot, k):
    """(from, to): host times of kernel k (0-based) of this QEMU run."""
    starts = kernel_starts(boot)
    lo = starts[k] if k < len(starts) else float("inf")
    hi = starts[k + 1] if k + 1 < len(starts) else float("inf")
    return lo, hi


def events_of(boot, k):
    lo, hi = in_kernel(boot, k)
    return [e for e in boot.events if lo <= e["host_t"] < hi]


def step_of(boot, k, name):
    return next((e for e in events_of(boot, k) if e.get("step") == name), None)


def first_line(boot, after, pattern, before=float("inf")):
    """(host time, text) of the first console line after `after` matching `pattern`."""
    rx = re.compile(pattern)
    for t, line in boot.lines:
        if after <= t < before and rx.search(plain(line)):
            return t, plain(line)
    return None, None


def shutdown_end(boot, k):
    """The end of kernel k's shutdown: the test's system-shutdown hook's mark, or, where it did
    not get to print before warmboot's hook jumped (a reboot made warm), that hook's line. A dict
    with host_t, or None."""
    hook = step_of(boot, k, "shutdown-hook")
    if hook is None:
        lo, hi = in_kernel(boot, k)
        t_jump, _ = first_line(boot, lo, HOOK_JUMP_RE, hi)
        hook = {"host_t": t_jump} if t_jump is not None else None
    return hook


def measure(boot, k, preserve, warmboot_phases=True):
    """The blackout of the warm reboot from kernel k to kernel k + 1 of `boot`: (rows, total,
    notes); rows are (phase, seconds, warmboot's, detail). `preserve` is the preserve's report
    (last-preserve.json) for its phases. None when a boundary is missing (notes say which)."""
    notes = []
    begin = step_of(boot, k, f"reboot-begin-{k + 1}")
    hook = shutdown_end(boot, k)
    _, next_start_t = in_kernel(boot, k)
    nxt = k + 1
    ready = step_of(boot, nxt, "app-ready")
    app_start = step_of(boot, nxt, "app-start")
    if not (begin and hook and ready and app_start) or next_start_t == float("inf"):
        notes.append(f"missing: reboot-begin {bool(begin)}, shutdown-hook {bool(hook)}, next "
                     f"kernel {next_start_t != float('inf')}, app-start {bool(app_start)}, "
                     f"app-ready {bool(ready)}")
        return None, None, notes
    t_asked = step_of(boot, k, f"reboot-asked-{k + 1}")
    t_stop0, what0 = first_line(boot, begin["host_t"],
                                r"^Stopping |warmboot-sample: stopping", hook["host_t"])
    t_p0, _ = first_line(boot, begin["host_t"], r"Stopping .*" + PRESERVE_RE, hook["host_t"])
    t_p1, _ = first_line(boot, begin["host_t"], r"Stopped .*" + PRESERVE_RE, hook["host_t"])
    lo, hi = in_kernel(boot, nxt)
    t_ird, ird = first_line(boot, lo, INITRAMFS_RE.pattern, hi)
    t_welcome, _ = first_line(boot, lo, r"^Welcome to ", hi)
    if None in (t_stop0, t_p0, t_p1, t_ird, t_welcome):
        notes.append(f"missing console lines: first stop {t_stop0}, preserve stopping {t_p0}, "
                     f"stopped {t_p1}, initramfs line {t_ird}, systemd welcome {t_welcome}")
        return None, None, notes
    m = INITRAMFS_RE.search(ird)
    t_ird0 = t_ird - float(m.group(3))  # the initramfs script's start, by its own clock
    # warmboot-prepare.service's stop, before the applications': the round at a plain systemctl
    # kexec (after warmboot reboot, which ran it already, a moment's no-op).
    t_q0, _ = first_line(boot, begin["host_t"], r"Stopping .*" + PREPARE_RE, t_p0)
    t_q1, _ = first_line(boot, begin["host_t"], r"Stopped .*" + PREPARE_RE, t_p0)
    prepare_s = t_q1 - t_q0 if t_q0 is not None and t_q1 is not None else 0.0
    rows = [
        ("warmboot round (prepare unit stop)", prepare_s, True,
         "the round at a plain systemctl kexec" if prepare_s >= 0.5 else "nothing to do"),
        ("services stopping", t_p0 - t_stop0 - prepare_s, False, f"first: {what0[:60]}"),
        ("warmboot preserve (unit stop)", t_p1 - t_p0, True,
         f"{len(preserve.get('phases', []) or [])} phases below"),
    ]
    for p in (preserve.get("phases", []) or []) if warmboot_phases else []:
        rows.append(("    " + p.get("phase", "?"), p.get("seconds", 0), None,
                     p.get("detail", "")[:60]))
    rows += [
        ("rest of the shutdown", hook["host_t"] - t_p1, False,
         "warmbootd, unmounts, systemd-shutdown"),
        ("kexec + next kernel boot", next_start_t - hook["host_t"], False,
         "to the initramfs's first line"),
        ("initramfs before warmboot", t_ird0 - next_start_t, False, "udev, modules"),
        ("initramfs warmboot restore", t_ird - t_ird0, True,
         f"pmem probed {m.group(4)} s, restore {m.group(5)} s"),
        ("initramfs to systemd", t_welcome - t_ird, False, "root mounted, switch_root"),
        ("systemd to the app's start", app_start["host_t"] - t_welcome, False,
         "units up to warmboot-state.target"),
        ("the app's restore check", ready["host_t"] - app_start["host_t"], False,
         f"Restored(), {ready.get('segments')} segments compared, released"),
    ]
    total = ready["host_t"] - t_stop0
    args = (begin.get("args") or "").split(",")
    if t_asked and args[:1] == ["systemctl"]:
        notes.append(f"warmboot kexec --load-only, then systemctl {args[1] if len(args) > 1 else '?'} "
                     f"(before the blackout; the round runs in it): "
                     f"{t_asked['host_t'] - begin['host_t']:.1f} s on the console")
    elif t_asked:
        early = next((n for n in preserve.get("notes", []) or []
                      if "offlined the memory blocks" in n or "took the memory out" in n), None)
        notes.append(f"warmboot reboot (checks, round, kernel load, "
                     f"{'early offline and hot-remove' if early else 'no early offline'}; before the blackout): "
                     f"{t_asked['host_t'] - begin['host_t']:.1f} s on the console"
                     + (f" ({early})" if early else ""))
    return rows, total, notes


def table(rows, total):
    """The phases as text lines with their share of `total`; warmboot's marked and summed."""
    out = [f"      {'phase':<34} {'seconds':>8} {'share':>6}  detail"]
    ours = 0.0
    for name, secs, mine, detail in rows:
        share = f"{100 * secs / total:5.1f}%" if mine is not None else ""
        tag = " [warmboot]" if mine else ""
        out.append(f"      {name:<34} {secs:8.2f} {share:>6}  {detail}{tag}")
        if mine:
            ours += secs
    out.append(f"      {'blackout':<34} {total:8.2f} 100.0%  first service stopping -> app ready")
    out.append(f"      {'warmboot own phases':<34} {ours:8.2f} {100 * ours / total:5.1f}%  "
               f"(goal: under 30 %)")
    return out, ours
