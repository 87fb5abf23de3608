"""The one kind of error a command reports as bad input: one line per problem and exit status 2,
never a traceback. Declared here, below every layer that raises it, so that the command line can
catch them all without importing the heavy modules that raise them."""

from __future__ import annotations


class BadInput(Exception):
    """Input the program refuses, or a result it will not pretend to have; `lines` is what the user reads."""

    @property
    def lines(self) -> list[str]:
        return str(self).splitlines() or [type(self).__name__]
