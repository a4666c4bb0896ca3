"""The wire names of one sequence run, and the way back to symbols.

Strategy: a sequence speaks of functions ``f1``..``f3``, uniques ``u1``..``u3``
and one client id per connection; every run of a sequence (the first one, each
confirmation and each shrinking trial) gets a fresh namespace, so no run sees
another's jobs. The names come from the engine's own ``Variables`` with a run
id of its own, so a name on the wire is exactly what the case placeholder
(``${fn:f1}``, ``${uniq:u1}``) expands to when the case runs, and
``symbolize`` turns what a server says back into that placeholder text: an
observation is then the same on every server and already in the case's words.
"""

from __future__ import annotations

from ..engine.values import Variables

CASE = "x"  # the case id part of every name: the run id carries the namespace
HEX_PREFIX = "hex:"  # how bytes that are not UTF-8 appear in an observation


class Names:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.vars = Variables(run_id, CASE)
        self._table: list[tuple[bytes, str]] | None = None

    # -- to the wire ---------------------------------------------------------------
    def function(self, symbol: str) -> bytes:
        return self.vars.function(symbol).encode()

    def unique(self, symbol: str) -> bytes:
        if symbol in ("", "-"):
            return symbol.encode()
        return self.vars.unique(symbol).encode()

    def client_id(self, actor: str, generation: int, suffix: str = "") -> bytes:
        return self.function(id_symbol(actor, generation, suffix))

    def bogus_handle(self) -> bytes:
        return self.function("nohandle")

    # -- back to symbols -----------------------------------------------------------
    def _replacements(self) -> list[tuple[bytes, str]]:
        if self._table is None:
            fixed: dict[bytes, str] = {}
            for n in range(1, 4):
                fixed[self.function(f"f{n}")] = f"${{fn:f{n}}}"
                fixed[self.function(f"r{n}")] = f"${{fn:r{n}}}"
                fixed[self.unique(f"u{n}")] = f"${{uniq:u{n}}}"
            fixed[self.bogus_handle()] = "${fn:nohandle}"
            fixed[self.vars.function().encode()] = "${fn}"
            fixed[self.vars.unique().encode()] = "${uniq}"
            self._table = sorted(fixed.items(), key=lambda kv: -len(kv[0]))
        return self._table

    def symbolize(self, value: bytes) -> str:
        """``value`` as case text: our names and handles as placeholders, ``$${`` escaped."""
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return HEX_PREFIX + value.hex()
        text = text.replace("${", "$${")
        if not any(wire in value for wire, _ in self._replacements()):
            return text
        out = value.replace(b"${", b"$${")
        for wire, placeholder in self._replacements():  # placeholders hold no wire names
            out = out.replace(wire, placeholder.encode())
        return out.decode("utf-8")

    def mentions_ours(self, value: bytes) -> bool:
        """True when ``value`` holds one of this run's names (our rows of an admin listing)."""
        return self.vars.function().encode() in value or self.vars.unique().encode() in value


def id_symbol(actor: str, generation: int, suffix: str = "") -> str:
    """The client id placeholder name of an actor's connection: id-w1, id-w1.2, id-w1.2b."""
    return f"id-{actor}" + (f".{generation}" if generation else "") + suffix
