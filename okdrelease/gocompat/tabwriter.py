"""Go's text/tabwriter, as oc uses it for ``info`` output."""

from __future__ import annotations

__all__ = ["TabWriter"]


class TabWriter:
    """Go ``text/tabwriter`` with padchar space and no flags but DiscardEmptyColumns (optional).

    Text is buffered until :meth:`flush`; cells are tab-terminated, the text after the last tab of a
    line is not part of any column. Column blocks are runs of consecutive lines having that cell.
    """

    def __init__(
        self, minwidth: int = 0, tabwidth: int = 4, padding: int = 1, *, discard_empty: bool = False
    ):
        """Same parameters as Go's ``tabwriter.NewWriter`` (tabwidth unused with space padding)."""
        self.minwidth = minwidth
        self.tabwidth = tabwidth
        self.padding = padding
        self.discard_empty = discard_empty
        self._buffer: list[str] = []
        self._out: list[str] = []

    def write(self, text: str) -> None:
        """Buffer ``text``."""
        self._buffer.append(text)

    def flush(self) -> None:
        """Format everything buffered so far."""
        text = "".join(self._buffer)
        self._buffer = []
        if not text:
            return
        lines = [line.split("\t") for line in text.split("\n")]
        self._format(lines, 0, len(lines), [])

    def getvalue(self) -> str:
        """Flush and return all formatted output."""
        self.flush()
        return "".join(self._out)

    def _format(self, lines: list[list[str]], line0: int, line1: int, widths: list[int]) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            self._write_lines(lines, line0, this, widths)
            line0 = this
            width = self.minwidth
            discardable = True
            while this < line1 and column < len(lines[this]) - 1:
                cell = lines[this][column]
                width = max(width, len(cell) + self.padding)
                if cell:
                    discardable = False
                this += 1
            if discardable and self.discard_empty:
                width = 0
            self._format(lines, line0, this, [*widths, width])
            line0 = this
        self._write_lines(lines, line0, line1, widths)

    def _write_lines(self, lines: list[list[str]], line0: int, line1: int, widths: list[int]) -> None:
        for index in range(line0, line1):
            for j, cell in enumerate(lines[index]):
                self._out.append(cell)
                if j < len(widths):
                    self._out.append(" " * (widths[j] - len(cell)))
            if index + 1 < len(lines):
                self._out.append("\n")
