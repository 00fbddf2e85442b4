"""``exotel-voice``: the SDK's command line (typer app and entry point).

Commands: ``demo`` (two phones on the embedded server, checked and measured),
``phone`` (a phone agent on a real server), ``devices`` (audio devices) and
``call-api`` (Exotel's REST API). Every failure ends as one line on stderr and a
non-zero exit status: 1 when something did not work, 2 for bad arguments, 130 when
interrupted; ``-v`` shows the SDK's log, ``-vv`` with tracebacks.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import Annotated

import typer
from typer.exceptions import TyperException

from exotel_voice import __version__
from exotel_voice.cli.call_api_cmd import call_api_command
from exotel_voice.cli.demo_cmd import demo_command
from exotel_voice.cli.devices_cmd import devices_command
from exotel_voice.cli.diagnose_cmd import diagnose_command
from exotel_voice.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CommandError
from exotel_voice.cli.output import LogHandler, Output
from exotel_voice.cli.phone_cmd import phone_command

__all__ = ["app", "main"]

PROG = "exotel-voice"

app = typer.Typer(
    name=PROG,
    help="Exotel Voice SDK for Python: try it, run a phone, list devices, place API calls.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit


@app.callback()
def root(
    ctx: typer.Context,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose", "-v", count=True, help="Show the SDK's log (-vv: debug, with tracebacks)."
        ),
    ] = 0,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Exotel Voice SDK for Python: try it, run a phone, list devices, place API calls."""
    output = Output()
    ctx.obj = output
    handler = LogHandler(output, tracebacks=verbose >= 2)
    root_logger = logging.getLogger()
    root_logger.handlers[:] = [handler]
    root_logger.setLevel(
        logging.DEBUG if verbose >= 2 else logging.INFO if verbose else logging.WARNING
    )
    if verbose < 2:
        # aiortc/aioice narrate every ICE check at INFO: not what -v is for.
        for noisy in ("aioice", "aiortc"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


app.command("demo")(demo_command)
app.command("phone")(phone_command)
app.command("devices")(devices_command)
app.command("call-api")(call_api_command)
app.command("diagnose")(diagnose_command)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: the arguments (``sys.argv[1:]`` by default).

    Returns:
        The exit status.
    """
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = command.main(args=args, prog_name=PROG, standalone_mode=False)
    except TyperException as exc:  # usage errors (click's, vendored by typer)
        context = getattr(exc, "ctx", None)
        where = getattr(context, "command_path", None) or PROG
        code = int(getattr(exc, "exit_code", EXIT_FAILED))
        message = _one_line(exc.format_message())
        if message:  # (none when the help was shown for a bare command)
            hint = f" (see '{where} --help')" if code == 2 else ""
            _stderr(f"{where}: error: {message}{hint}")
        return code
    except typer.Abort:
        _stderr(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except BaseException as caught:  # the last line of defence: one line, no traceback
        error = _innermost(caught)
        if isinstance(error, CommandError):
            _stderr(f"{_command_path(args)}: error: {_one_line(error.message)}")
            return error.exit_code
        if isinstance(error, BrokenPipeError):
            # The reader went away (``| head``): nothing more can be said on stdout.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_FAILED
        if isinstance(error, KeyboardInterrupt):
            _stderr(f"{PROG}: interrupted")
            return EXIT_INTERRUPTED
        if not isinstance(error, Exception):
            raise  # SystemExit and the like
        logging.getLogger(__name__).debug("unexpected error", exc_info=caught)
        _stderr(
            f"{_command_path(args)}: unexpected error: {type(error).__name__}: "
            f"{_one_line(str(error))} (run with -vv for the traceback)"
        )
        return EXIT_FAILED
    return result if isinstance(result, int) else EXIT_OK


def _innermost(exc: BaseException) -> BaseException:
    """The error a task group wrapped (the first ``CommandError`` if there is one)."""
    while isinstance(exc, BaseExceptionGroup):
        inner = exc.exceptions
        exc = next((e for e in inner if _has_command_error(e)), inner[0])
    return exc


def _has_command_error(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return any(_has_command_error(e) for e in exc.exceptions)
    return isinstance(exc, CommandError)


def _command_path(args: Sequence[str]) -> str:
    names = {command.name for command in app.registered_commands}
    command = next((a for a in args if a in names), None)
    return f"{PROG} {command}" if command else PROG


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
