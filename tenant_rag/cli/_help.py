"""``--help`` placeholders people read: ``TEXT``, ``INTEGER``, ``QUESTION``, never Python types.

Typer labels values with their annotations (``<str>``, ``<list[str]>``) and
gives flags a type too (``--json <bool>``, which reads as if it took a
value). Every command and the root group are built through these classes,
which give options a conventional metavar (none for flags) and arguments
their upper-case name, so a command added later gets the same help.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

_BY_TYPE = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH", "bool": "BOOLEAN"}


class _PlainArgument(TyperArgument):
    """An argument shown by its name (``QUESTION``), with no type column."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.metavar or (self.name or "").upper()
        return [name if self.required else f"[{name}]"]


def plain_placeholders(params: list[Any]) -> None:
    """Give ``params`` readable placeholders, in place (explicit metavars are kept)."""
    for param in params:
        if isinstance(param, TyperArgument):
            if param.metavar is None:
                name = (param.name or "value").upper()
                param.metavar = name + ("..." if param.nargs != 1 else "")
            param.__class__ = _PlainArgument
        elif isinstance(param, TyperOption) and param.metavar is None:
            if param.is_flag:
                param.metavar = ""  # a flag takes no value: show none
            else:
                param.metavar = _placeholder(param)


def _placeholder(option: TyperOption) -> str:
    """``TEXT``, ``INTEGER``, ``NUMBER``, ``PATH`` from the option's annotation."""
    label = option.bare_type()  # "str", "int", "list[str]", "Path", ...
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    return _BY_TYPE.get(label, label.upper())


class PlainHelpCommand(TyperCommand):
    """A Typer command whose help shows readable placeholders."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_placeholders(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            plain_placeholders([option])
        return option


class PlainHelpGroup(TyperGroup):
    """A Typer group whose own options show readable placeholders."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_placeholders(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            plain_placeholders([option])
        return option
