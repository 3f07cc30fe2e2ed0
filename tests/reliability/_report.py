"""Counters behind the reliability report printed at the end of a pytest session."""

from dataclasses import dataclass, field

__all__ = ["ReliabilityReport", "report"]


@dataclass
class ReliabilityReport:
    """What the reliability tests did: faults injected and survived, bad inputs, events lost.

    A fault counts as survived, and a bad input as handled, only when the test recorded it after
    every assertion about it passed; a failing test therefore shows up as a shortfall.
    """

    faults_injected: dict[str, int] = field(default_factory=dict)
    faults_survived: dict[str, int] = field(default_factory=dict)
    events_lost: int = 0
    events_checked: int = 0
    bad_inputs_tried: dict[str, int] = field(default_factory=dict)
    bad_inputs_handled: dict[str, int] = field(default_factory=dict)
    measured: dict[str, str] = field(default_factory=dict)

    def injected(self, kind: str, count: int = 1) -> None:
        """Record ``count`` faults of ``kind`` injected."""
        self.faults_injected[kind] = self.faults_injected.get(kind, 0) + count

    def survived(self, kind: str, count: int = 1) -> None:
        """Record ``count`` faults of ``kind`` survived (call after the assertions)."""
        self.faults_survived[kind] = self.faults_survived.get(kind, 0) + count

    def checked_events(self, checked: int, lost: int) -> None:
        """Record that ``checked`` committed events were looked for and ``lost`` were missing."""
        self.events_checked += checked
        self.events_lost += lost

    def tried(self, kind: str) -> None:
        """Record one bad input of ``kind`` tried."""
        self.bad_inputs_tried[kind] = self.bad_inputs_tried.get(kind, 0) + 1

    def handled(self, kind: str) -> None:
        """Record one bad input of ``kind`` handled (call after the assertions)."""
        self.bad_inputs_handled[kind] = self.bad_inputs_handled.get(kind, 0) + 1

    def measure(self, what: str, value: str) -> None:
        """Record a measurement to print with the report (for example a takeover time)."""
        self.measured[what] = value

    @property
    def empty(self) -> bool:
        """Whether no reliability test recorded anything."""
        return not (
            self.faults_injected or self.bad_inputs_tried or self.events_checked or self.measured
        )

    def lines(self) -> list[str]:
        """The report, one line per row."""
        injected = sum(self.faults_injected.values())
        survived = sum(self.faults_survived.values())
        tried = sum(self.bad_inputs_tried.values())
        handled = sum(self.bad_inputs_handled.values())
        out = [
            f"faults injected:    {injected}",
            f"faults survived:    {survived}",
            f"events lost:        {self.events_lost} (of {self.events_checked} committed "
            "events checked)",
            f"bad inputs tried:   {tried}",
            f"bad inputs handled: {handled}",
            "by fault (survived/injected):",
        ]
        for kind in sorted(self.faults_injected):
            done = self.faults_survived.get(kind, 0)
            out.append(f"  {kind}: {done}/{self.faults_injected[kind]}")
        out.append("by bad input (handled/tried, all adapters):")
        for group in sorted({kind.split(":")[0] for kind in self.bad_inputs_tried}):
            kinds = [k for k in self.bad_inputs_tried if k.split(":")[0] == group]
            done = sum(self.bad_inputs_handled.get(k, 0) for k in kinds)
            out.append(f"  {group}: {done}/{sum(self.bad_inputs_tried[k] for k in kinds)}")
        if self.measured:
            out.append("measured:")
            out.extend(f"  {what}: {value}" for what, value in sorted(self.measured.items()))
        return out


report = ReliabilityReport()
"""The session's report (one per process)."""
