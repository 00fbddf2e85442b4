"""``exotel-voice demo``: two phones call each other through the embedded server.

No account and no server to install. Every feature is exercised and checked; the
timeline shows live on stderr, the report (or ``--json``) goes to stdout, and a PNG of
levels and quality over time is written (``exotel-voice-demo.png`` by default). The exit
status is 1 if any check failed.
"""

from __future__ import annotations

import signal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import anyio
import typer

from exotel_voice.cli.demo import Demo, DemoResult, DemoSettings
from exotel_voice.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CommandError
from exotel_voice.cli.output import Output
from exotel_voice.cli.plot import render_chart
from exotel_voice.cli.report import demo_chart, demo_document, demo_tables, demo_verdict
from exotel_voice.cli.timeline import Timeline, TimelineView

__all__ = ["demo_command", "DEFAULT_PLOT"]

DEFAULT_PLOT = Path("exotel-voice-demo.png")


class CodecChoice(StrEnum):
    """Codecs the demo can use."""

    OPUS = "opus"
    PCMU = "PCMU"
    PCMA = "PCMA"
    G722 = "G722"


class DtmfChoice(StrEnum):
    """How the demo's phones send DTMF."""

    AUTO = "auto"
    RFC4733 = "rfc4733"
    INFO = "info"


async def _run(settings: DemoSettings, timeline: Timeline) -> DemoResult:
    demo = Demo(settings, timeline)
    forced = False

    async def watch_signals(force: anyio.CancelScope) -> None:
        nonlocal forced
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                if demo.result.interrupted is None:
                    demo.interrupt(signal.Signals(signum).name)  # clean: hang up, unregister
                else:
                    forced = True
                    force.cancel()  # a second signal: stop now

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch_signals, tg.cancel_scope)
            result = await demo.run()
            tg.cancel_scope.cancel()
    except Exception:
        if forced:  # whatever the cut-short clean-up left behind
            raise CommandError("interrupted", EXIT_INTERRUPTED) from None
        raise
    if forced:
        raise CommandError("interrupted", EXIT_INTERRUPTED)
    return result


def demo_command(
    ctx: typer.Context,
    *,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the report as one JSON document.")
    ] = False,
    plot: Annotated[
        Path,
        typer.Option(
            metavar="PATH",
            dir_okay=False,
            help="Where to write the PNG of levels and quality over time.",
        ),
    ] = DEFAULT_PLOT,
    no_plot: Annotated[bool, typer.Option("--no-plot", help="Do not write the PNG.")] = False,
    codec: Annotated[CodecChoice, typer.Option(help="The audio codec of the call.")] = (
        CodecChoice.OPUS
    ),
    dtmf_mode: Annotated[
        DtmfChoice, typer.Option(help="DTMF in the audio stream (RFC 4733) or by SIP INFO.")
    ] = DtmfChoice.AUTO,
) -> int:
    """Try the SDK in a minute: two phones call each other through the embedded server.

    Checks audio both ways, DTMF both ways, hold and resume, mute and hangup, measures
    loss, jitter, RTT, MOS and the one-way delay, and draws them over time in a PNG.
    """
    output: Output = ctx.obj
    output.json_mode = json_output
    if not no_plot and not plot.parent.resolve().is_dir():
        raise CommandError(f"--plot: the folder {str(plot.parent)!r} does not exist", 2)
    settings = DemoSettings(codec=codec.value, dtmf_mode=dtmf_mode.value)
    timeline = Timeline()
    with TimelineView(timeline, output, "exotel-voice demo"):
        result = anyio.run(_run, settings, timeline, backend="asyncio")
    written: Path | None = None
    if not no_plot:
        try:
            render_chart(demo_chart(result), plot)
            written = plot
        except OSError as exc:
            output.warn(f"could not write the plot to {str(plot)!r}: {exc.strerror or exc}")
    if json_output:
        output.document(demo_document(result, written))
    else:
        output.show(
            demo_tables(result, with_checks=not (output.interactive and output.out.is_terminal))
        )
        if written is not None:
            output.line(f"plot: {written.resolve()}")
        output.show(demo_verdict(result))
    if result.interrupted is not None:
        raise CommandError(f"interrupted ({result.interrupted})", EXIT_INTERRUPTED)
    return EXIT_OK if result.ok else EXIT_FAILED
