"""`mnd targets`: each registered target, what it needs, and whether it is ready here now: "ready", "ready
(emulated)", "tools present, no device" (a phone or board is needed and none answers) or "unavailable"."""
from pathlib import Path

from mnd.targets.base import BoardAccess


def access_given(args) -> BoardAccess:
    """The --serial, --ssh, --identity and --ssh-config given to 'mnd targets'."""
    return BoardAccess(serial=args.serial, ssh=args.ssh, identity=args.identity and Path(args.identity).resolve(),
                       ssh_config=args.ssh_config and Path(args.ssh_config).resolve())


def list_targets(access: BoardAccess) -> list:
    """One row per target; `available` (kept for older readers) means ready."""
    from mnd.targets.cortex_m.boards import boards_on
    from mnd.targets.registry import get_target, target_names
    from mnd.targets.toolchain import needs_row

    rows = []
    for name in target_names():
        target = get_target(name)
        readiness = target.readiness(_for(target, access))
        debian = needs_row(name, target.needs)
        rows.append({"name": name, "description": target.description, "requires": list(target.requires),
                     "status": readiness.status, "available": readiness.ready, "reason": readiness.reason,
                     "device": readiness.device, "modes": target.modes(), "debian_packages": debian["packages"],
                     "missing_debian_packages": debian["missing_packages"],
                     "boards": [board.to_dict() for board in boards_on(name)]})
    return rows


def format_rows(rows: list) -> str:
    from mnd.targets.cortex_m.boards import boards_on

    lines, pad = [], " " * 12
    for row in rows:
        detail = row["reason"] or row["device"]
        lines.append(f"{row['name']:<12} {row['status']}" + (f": {detail}" if detail else ""))
        lines += [f"{pad} {row['description']}", f"{pad} needs: {', '.join(row['requires'])}"]
        if row["debian_packages"]:
            lines.append(f"{pad} Debian packages: {' '.join(row['debian_packages'])}")
        lines += [f"{pad} {mode}" for mode in row["modes"]]
        lines += [f"{pad} board preset (--board): {board.describe()}" for board in boards_on(row["name"])]
    return "\n".join(lines)


def _for(target, access: BoardAccess) -> BoardAccess:
    """`access` without the fields `target` does not take (--serial means nothing to rpi4)."""
    return BoardAccess(**{field: value for field, value in vars(access).items() if field in target.accepts})
