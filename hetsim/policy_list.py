"""``hetsim policies``: the built-in policies, then the installed plugins (entry points
of the group ``hetsim.policies``), each with a one-line summary or why it is broken."""

from __future__ import annotations

from scheduler import plugins, registry


def policy_lines() -> list[str]:
    builtins = [n for n in registry.names() if not plugins.is_reference(n)]
    installed = plugins.entry_points()
    width = max(len(name) for name in (*builtins, *installed))
    lines = [f"{name:{width}s}  {registry.get(name).summary}" for name in builtins]
    lines.append("")
    if not installed:
        lines.append(
            f"plugins: none installed (entry point group {plugins.ENTRY_POINT_GROUP}); "
            "any policy can also be named module:function or file.py:function"
        )
        return lines
    lines.append(f"plugins (entry point group {plugins.ENTRY_POINT_GROUP}):")
    for name, value in sorted(installed.items()):
        try:
            summary = registry.get(name).summary
        except plugins.PluginError as exc:
            summary = f"BROKEN: {exc.message}"
        lines.append(f"{name:{width}s}  {summary} [{value}]")
    return lines
