"""What a server said in one step, in a form that can be compared across servers.

Strategy: every arrival becomes a tuple of text. Job handles become ``${h1}``,
``${h2}``... in the order each server first gave them (a handle is the
server's own name, so only its identity matters), our function names, uniques
and client ids become the case placeholders (``names.Names.symbolize``), and a
handle field that is a known handle plus more bytes (gearmand's trailing NUL)
keeps the extra bytes visibly. Where the protocol leaves the order free it is
made canonical: admin list rows are sorted and restricted to this run's rows
(other runs' functions and connections share the server), the functions of a
``workers`` row are sorted and its fd and address dropped, and a run of NOOPs
counts as one (a sleeping worker is woken; how many times is not specified).
Timing never enters an observation. The tuples are already in the case's
words, so the case writer copies them into expectations.
"""

from __future__ import annotations

from ..protocol import Magic, Packet, PacketType, command_words, reply_is_list
from .lane import AdminReply, BarrierEcho, Closed, Garbled, Raw, Silent, StepRaw
from .names import Names

Item = tuple[str, ...]
Observation = dict[str, tuple[Item, ...]]
T = PacketType

# packet types whose handle field may introduce a handle we have not seen yet
_NEW_HANDLE_TYPES = (T.JOB_CREATED, T.JOB_ASSIGN, T.JOB_ASSIGN_UNIQ, T.JOB_ASSIGN_ALL)


class Normalizer:
    """One server's handles and names for one run of a sequence."""

    def __init__(self, names: Names) -> None:
        self.names = names
        self.symbols: dict[bytes, str] = {}

    def handle(self, value: bytes, *, new: bool) -> str:
        symbol = self.symbols.get(value)
        if symbol is not None:
            return symbol
        for known, sym in sorted(self.symbols.items(), key=lambda kv: -len(kv[0])):
            if value.startswith(known) and known:
                return sym + self.names.symbolize(value[len(known):])
        if new:
            symbol = f"${{h{len(self.symbols) + 1}}}"
            self.symbols[value] = symbol
            return symbol
        return self.names.symbolize(value)

    def wire_handle(self, symbol: str) -> bytes | None:
        for wire, sym in self.symbols.items():
            if sym == symbol:
                return wire
        return None

    # -- items ----------------------------------------------------------------
    def packet(self, p: Packet) -> Item:
        name = p.name if p.magic is Magic.RES else f"{p.name}(magic REQ)"
        args: list[str] = []
        for arg_name, value in zip(p.spec.args, p.args, strict=False):
            if arg_name == "handle":
                args.append(self.handle(value, new=p.type in _NEW_HANDLE_TYPES))
            else:
                args.append(self.names.symbolize(value))
        if len(p.args) != len(p.spec.args):
            args.append(f"(arity {len(p.args)} of {len(p.spec.args)})")
        if p.extra:
            args.append("extra=" + self.names.symbolize(p.extra))
        return (name, *args)

    def admin(self, reply: AdminReply) -> Item:
        words = command_words(reply.command)
        shown = self.names.symbolize(reply.command.encode("latin-1"))
        for wire, sym in self.symbols.items():
            shown = shown.replace(self.names.symbolize(wire), sym)
        lines = list(reply.lines)
        if not reply_is_list(reply.command) or (lines and lines[0].startswith(b"ERR")):
            return ("admin", shown, *(self.names.symbolize(x) for x in lines))
        rows = lines[:-1] if lines and lines[-1] == b"." else lines
        end = ["."] if lines and lines[-1] == b"." else ["(no closing '.')"]
        if words[:2] == ("show", "jobs"):
            kept = []
            for row in rows:
                handle, sep, rest = row.partition(b"\t")
                if handle in self.symbols:
                    kept.append(self.symbols[handle] + sep.decode() + self.names.symbolize(rest))
        elif words[:1] == ("workers",):
            kept = [self._worker_row(r) for r in rows if self.names.mentions_ours(r)]
        else:
            kept = [self.names.symbolize(r) for r in rows if self.names.mentions_ours(r)]
        return ("admin", shown, *sorted(kept), *end)

    def _worker_row(self, row: bytes) -> str:
        head, sep, functions = row.partition(b" :")
        parts = head.split(b" ", 2)
        client_id = parts[2] if len(parts) == 3 else head
        funcs = sorted(self.names.symbolize(f) for f in functions.split())
        return " ".join(["*", "*", self.names.symbolize(client_id), ":", *funcs]) if sep \
            else self.names.symbolize(row)

    def item(self, raw: Raw) -> Item:
        if isinstance(raw, Packet):
            return self.packet(raw)
        if isinstance(raw, AdminReply):
            return self.admin(raw)
        if isinstance(raw, Closed):
            return ("closed",)
        if isinstance(raw, Silent):
            return ("silent", raw.what)
        if isinstance(raw, BarrierEcho):
            return ("barrier-echo", self.names.symbolize(raw.data))
        if isinstance(raw, Garbled):
            return ("garbled", raw.error)
        raise TypeError(f"not an arrival: {raw!r}")

    def observe(self, raw: StepRaw) -> Observation:
        out: Observation = {}
        for actor in sorted(raw):
            items: list[Item] = []
            for r in raw[actor]:
                item = self.item(r)
                if item == ("NOOP",) and items and items[-1] == ("NOOP",):
                    continue
                items.append(item)
            if items:
                out[actor] = tuple(items)
        return out
