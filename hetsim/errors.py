"""The one error type for bad user input: it knows the file, line and field it is about."""

from __future__ import annotations


class InputError(Exception):
    """Bad user input (a config, a trace, a throughput file, a command-line value).

    ``str(err)`` is one line: ``FILE:LINE: field 'NAME': MESSAGE`` with the parts
    that are known, so the CLI can print it as it is and exit with code 2.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.source is not None:
            where = self.source
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        what = f"field '{self.field}': " if self.field is not None else ""
        return f"{where}{what}{self.message}"


def option_error(flag: str, message: str) -> InputError:
    """The InputError of a command-line option: ``--rate: field 'rate': MESSAGE``."""
    return InputError(message, source=flag, field=flag.lstrip("-"))
