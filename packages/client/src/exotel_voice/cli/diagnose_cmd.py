"""``exotel-voice diagnose``: the guide's diagnostics (section 5.11) from the command line.

It reports the runtime, the audio devices calls would use (``micInfo``, ``speakerInfo``),
whether a WebSocket to the server opens (``wss``), whether the account registers
(``userReg``: a real REGISTER, removed again before the exit), and which ICE candidates
this machine gathers against the STUN/TURN servers (``udp``, ``tcp``, ``ipv6``, ``host``,
``srflx``, ``relay``). The checks are ``exotel_voice.diagnostics``'; this module only
drives them and says what they found: a table and a summary line, or one JSON document
(``--json``), and the troubleshooting report (the JS SDK's ``TROUBLESHOOTER_FSM_REPORT``
lines) saved to a file.

The exit status is 0 when the server is reachable and, unless ``--no-register``, the
registration worked; 1 otherwise, with one line saying what failed; 2 for bad arguments;
130 when interrupted (the registration is still removed after a first Ctrl-C).
"""

from __future__ import annotations

import dataclasses
import datetime
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.to_thread
import typer
from rich.table import Table
from rich.text import Text

from exotel_voice.account import Account
from exotel_voice.cli.account_options import AccountOptions, build_account, load_account_file
from exotel_voice.cli.errors import EXIT_INTERRUPTED, EXIT_OK, CommandError, UsageProblem
from exotel_voice.cli.options import (
    AccountFileOption,
    AuthUserOption,
    CaFileOption,
    DomainOption,
    InsecureOption,
    PasswordOption,
    ServerOption,
    UserOption,
)
from exotel_voice.cli.output import Output
from exotel_voice.cli.shutdown import Shutdown
from exotel_voice.diagnostics import (
    DiagnosticResult,
    TroubleshootingReport,
    device_info,
    run_network_diagnostics,
    runtime_version,
)
from exotel_voice.errors import ConnectionFailed, RegistrationError
from exotel_voice.phone import Phone
from sipmedia import DeviceKind, IceProbeReport, IceServer, list_audio_devices

__all__ = [
    "diagnose_command",
    "Diagnosis",
    "diagnosis_document",
    "parse_ice_server",
    "default_report_path",
]

_CHECKS = "Checks"
_OUTPUT = "Output"

_DEVICE_PROBE_TIMEOUT = 10.0
"""Longest wait for the audio device probe, seconds (``exotel-voice devices``' default)."""

_GOOD = frozenset({"connected", "registered", "ready"})

# RFC 7064 §3.1:  stunURI = scheme ":" host [ ":" port ]
#                 scheme  = "stun" / "stuns"
# RFC 7065 §3.1:  turnURI = scheme ":" host [ ":" port ] [ "?transport=" transport ]
#                 scheme  = "turn" / "turns"
#                 transport = "udp" / "tcp" / transport-ext
# Neither has a userinfo part (RFC 7065 §3 leaves the credentials to the API); the
# ``turn:USER:PASSWORD@host`` shorthand many tools accept is taken here and split off.
# Hosts are names or IPv4 addresses: aiortc's own URI pattern has no IPv6 literals.
_ICE_URI = re.compile(
    r"(?P<scheme>stuns?|turns?):(?:(?P<userinfo>[^@]*)@)?"
    r"(?P<host>[A-Za-z0-9.\-]+)(?::(?P<port>[0-9]{1,5}))?"
    r"(?:\?transport=(?P<transport>udp|tcp))?\Z"
)


def parse_ice_server(
    url: str, *, username: str | None = None, password: str | None = None
) -> IceServer:
    """A ``--stun``/``--turn`` value as an ``IceServer``.

    Args:
        url: ``stun:host[:port]``, ``turn:host[:port][?transport=udp|tcp]`` (or
            ``stuns:``/``turns:``); a TURN URL may carry ``USER:PASSWORD@`` before the
            host, which wins over ``username``/``password``.
        username: the TURN user when the URL has none.
        password: the TURN password when the URL has none.

    Returns:
        The server, its URL without the credentials.

    Raises:
        ValueError: not such a URL, a port out of range, a STUN URL with credentials or
            a transport, or a TURN URL without a user and password. The message never
            holds the password.
    """
    match = _ICE_URI.match(url.strip())
    if match is None:
        shown = url.split("@", 1)[-1] if "@" in url else url
        raise ValueError(
            f"{shown!r} is not a stun:host[:port] or turn:host[:port][?transport=udp|tcp] URL"
        )
    scheme, userinfo, host, port, transport = match.group(
        "scheme", "userinfo", "host", "port", "transport"
    )
    if port is not None and not 0 < int(port) < 65536:
        raise ValueError(f"{scheme}:{host}:{port} has a bad port number")
    bare = f"{scheme}:{host}" + (f":{port}" if port else "")
    if scheme.startswith("stun"):
        if userinfo is not None or transport is not None:
            raise ValueError(f"{bare}: a STUN URL takes no user, password or transport")
        return IceServer(bare)
    if transport is not None:
        bare += f"?transport={transport}"
    if userinfo is not None:
        username, _, password = userinfo.partition(":")
    if not username or not password:
        raise ValueError(
            f"{bare} needs a user and password: give turn:USER:PASSWORD@host, or "
            "--turn-user and --turn-password"
        )
    return IceServer(bare, username, password)


def default_report_path(now: datetime.datetime) -> Path:
    """``exotel-voice-diagnostics-<YYYYmmdd-HHMMSS>.txt`` in the current directory."""
    return Path(f"exotel-voice-diagnostics-{now:%Y%m%d-%H%M%S}.txt")


class _Report(TroubleshootingReport):
    """The troubleshooting report, keeping its warnings apart to explain a failure."""

    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        super().warning(message)


@dataclass(frozen=True, slots=True)
class _Settings:
    account: Account
    register: bool
    devices: bool
    timeout: float
    ice_timeout: float


@dataclass(slots=True)
class Diagnosis:
    """What ``exotel-voice diagnose`` found (filled in as the checks run)."""

    account: Account
    register: bool
    """Whether a registration was asked for (``--register``)."""
    runtime: str = field(default_factory=runtime_version)
    devices: tuple[DiagnosticResult, ...] = ()
    """``micInfo`` and ``speakerInfo`` (none with ``--no-devices``)."""
    registration_error: str | None = None
    """Why the registration failed (None: it worked, or was not asked for)."""
    network: list[DiagnosticResult] = field(default_factory=list)
    """The network checks' results as they came (``wss``, ``userReg``, then the ICE
    keys; fewer when interrupted)."""
    ice: IceProbeReport | None = None
    """The ICE gathering (None: interrupted before it finished)."""
    server_error: str | None = None
    """Why the connection to the server could not be opened (from the report)."""
    interrupted: str | None = None
    """The signal that stopped the checks early, if one did."""

    def results(self) -> tuple[DiagnosticResult, ...]:
        """Every key found, in the guide's order (runtime, devices, network)."""
        runtime = DiagnosticResult("browserVersion", "ready", self.runtime)
        return (runtime, *self.devices, *self.network)

    def result(self, key: str) -> DiagnosticResult | None:
        """The result for ``key``, if it was found."""
        return next((r for r in self.results() if r.key == key), None)

    @property
    def failure(self) -> str | None:
        """The one line saying what failed, or None when everything asked for worked."""
        server, registration = self.result("wss"), self.result("userReg")
        if server is None or registration is None:
            return "the diagnostics did not finish"
        if server.status != "connected":
            what = "WebSocket" if server.description.startswith(("ws:", "wss:")) else "connection"
            reason = f": {self.server_error}" if self.server_error else ""
            return f"the {what} to {server.description} could not be opened{reason}"
        if self.register and registration.status != "registered":
            return self.registration_error or f"{self.account.aor} is not registered"
        return None


# --------------------------------------------------------------------------- the checks


async def _list_devices(diagnosis: Diagnosis, report: TroubleshootingReport) -> None:
    listed = await anyio.to_thread.run_sync(list_audio_devices, _DEVICE_PROBE_TIMEOUT)
    found = []
    for kind in (DeviceKind.INPUT, DeviceKind.OUTPUT):
        info = device_info(listed, kind)
        label = "audioinput" if kind is DeviceKind.INPUT else "audiooutput"
        if info.status == "no device":  # a normal answer: calls still run on files and tones
            report.warning(f"Device: {label}, {info.description}")
        else:
            report.info(f"Device: {label}, label: {info.status}, id:{listed.default(kind)}")
        found.append(info)
    diagnosis.devices = tuple(found)


async def _register(settings: _Settings, diagnosis: Diagnosis, report: _Report) -> Phone | None:
    """A registered phone, or None with ``diagnosis.registration_error`` saying why."""
    account = settings.account
    report.info(f"user registration: registering {account.aor} on {account.server}")
    phone = Phone(account)
    try:
        await phone.start(register=False)
    except ConnectionFailed as exc:
        text = str(exc)
        if account.server not in text:
            text = f"cannot connect to {account.server}: {text}"
        diagnosis.registration_error = f"{account.aor}: {text}"
        report.warning(f"user registration failed: {text}")
        return None
    try:
        await phone.register(timeout=settings.timeout)
    except RegistrationError as exc:
        await phone.aclose(grace=settings.timeout)
        hint = " (wrong user or password?)" if exc.auth_rejected else ""
        diagnosis.registration_error = f"{account.aor}: {exc}{hint}"
        report.warning(f"user registration failed: {exc}")
        return None
    except BaseException:
        await phone.aclose(grace=settings.timeout)
        raise
    return phone


async def _diagnose(settings: _Settings, report: _Report, output: Output) -> Diagnosis:
    """Run the checks; a first SIGINT/SIGTERM skips what is left but still unregisters."""
    account = settings.account
    diagnosis = Diagnosis(account, settings.register)
    report.info(f"Browser: {diagnosis.runtime}, Platform: {platform.platform()}")
    shutdown = Shutdown()
    with shutdown.force:
        async with anyio.create_task_group() as signals:
            await signals.start(shutdown.watch)
            if settings.devices:
                output.status("looking for audio devices")
                await _list_devices(diagnosis, report)
            phone = None
            if settings.register:
                output.status(f"registering {account.aor} on {account.server}")
                phone = await _register(settings, diagnosis, report)
            # From here a first signal only stops the checks: the phone still unregisters.
            shutdown.started = True
            try:
                with shutdown.work:
                    output.status(f"opening {account.server}; gathering ICE candidates")
                    report.info("network diagnostics started")
                    found = await run_network_diagnostics(
                        account,
                        phone=phone,
                        timeout=settings.timeout,
                        ice_timeout=settings.ice_timeout,
                        report=report,
                        on_result=lambda r: _found(diagnosis, output, r),
                    )
                    diagnosis.ice = found.ice
                    report.info("network diagnostics complete")
            finally:
                if phone is not None:
                    output.status(f"unregistering {account.aor}")
                    await phone.aclose(grace=settings.timeout)
                    report.info(f"user registration: {account.aor} unregistered")
            signals.cancel_scope.cancel()
    if shutdown.requested is not None:
        diagnosis.interrupted = shutdown.requested
        report.warning(f"diagnostics interrupted ({shutdown.requested})")
    server = diagnosis.result("wss")
    if server is not None and server.status != "connected":
        diagnosis.server_error = _connect_failure(report, account.server)
    return diagnosis


def _found(diagnosis: Diagnosis, output: Output, result: DiagnosticResult) -> None:
    diagnosis.network.append(result)
    output.status(f"{result.key}: {result.status}")


def _connect_failure(report: _Report, url: str) -> str | None:
    """Why ``check_server`` could not connect, from its report warning (``websocket
    connection to URL failed: connecting to URL: REASON``): the reason alone."""
    prefix = f"websocket connection to {url} failed: "
    for warning in report.warnings:
        if warning.startswith(prefix):
            return warning.removeprefix(prefix).rpartition(f"{url}: ")[2]
    return None


# --------------------------------------------------------------------------- output


def diagnosis_document(diagnosis: Diagnosis, report_path: Path) -> dict[str, Any]:
    """Everything found as JSON-ready data (``ok`` and ``error`` first; no password)."""
    ice = diagnosis.ice
    failure = diagnosis.failure if diagnosis.interrupted is None else "interrupted"
    return {
        "ok": failure is None,
        "error": failure,
        "server": diagnosis.account.server,
        "user": diagnosis.account.aor,
        "runtime": diagnosis.runtime,
        "platform": platform.platform(),
        "register": diagnosis.register,
        "registration_error": diagnosis.registration_error,
        "results": {
            r.key: {"status": r.status, "description": r.description} for r in diagnosis.results()
        },
        "candidates": list(ice.candidates) if ice is not None else [],
        "unanswered": list(ice.unanswered) if ice is not None else [],
        "unsupported": list(ice.unsupported) if ice is not None else [],
        "interrupted": diagnosis.interrupted,
        "report": str(report_path.resolve()),
    }


def _status_style(diagnosis: Diagnosis, result: DiagnosticResult) -> str:
    if result.status in _GOOD:
        return "green"
    if result.key in ("micInfo", "speakerInfo"):  # a device name, or "no device"
        return "yellow" if result.status == "no device" else "green"
    if result.key == "wss" or (result.key == "userReg" and diagnosis.register):
        return "bold red"
    return "dim"


def _table(diagnosis: Diagnosis) -> Table:
    table = Table(title_justify="left")
    table.add_column("key")
    table.add_column("status")
    table.add_column("description", overflow="fold")
    for result in diagnosis.results():
        description = result.description
        if result.key == "userReg" and not diagnosis.register:
            description += " (not tried: --no-register)"
        table.add_row(
            result.key,
            Text(str(result.status), style=_status_style(diagnosis, result)),
            description,
        )
    return table


def _summary(diagnosis: Diagnosis) -> Text:
    failure = diagnosis.failure
    if diagnosis.interrupted is not None:
        return Text(f"INTERRUPTED ({diagnosis.interrupted}): the checks did not all run", "red")
    if failure is not None:
        return Text(f"FAILED: {failure}", style="bold red")
    assert diagnosis.ice is not None  # no failure: the network checks ran
    registered = (
        f"{diagnosis.account.aor} registered" if diagnosis.register else "registration not tried"
    )
    kinds = [c.key for c in diagnosis.ice.checks() if c.connected]
    return Text(
        f"OK: the server is reachable, {registered}; ICE candidates: {', '.join(kinds) or 'none'}",
        style="bold green",
    )


def _show(output: Output, diagnosis: Diagnosis, report_path: Path) -> None:
    account = diagnosis.account
    output.line(f"Diagnostics of {account.aor} on {account.server} ({diagnosis.runtime})")
    output.show(_table(diagnosis))
    ice = diagnosis.ice
    if ice is not None:
        for url in ice.unanswered:
            output.warn(f"ICE server {url} gave no candidate")
        for url in ice.unsupported:
            output.warn(f"ICE server {url} is not supported")
        output.line(f"{len(ice.candidates)} ICE candidates gathered in {ice.elapsed:.2f} s")
    output.show(_summary(diagnosis))
    output.line(f"report: {report_path.resolve()}")


def _ice_option(
    option: str, url: str, *, username: str | None = None, password: str | None = None
) -> IceServer:
    try:
        return parse_ice_server(url, username=username, password=password)
    except ValueError as exc:
        raise UsageProblem(f"{option}: {exc}") from None


def _report_target(report: Path | None, now: datetime.datetime) -> Path:
    target = report if report is not None else default_report_path(now)
    if not target.is_dir() and not target.parent.resolve().is_dir():
        raise UsageProblem(f"--report: the folder {str(target.parent)!r} does not exist")
    return target


# --------------------------------------------------------------------------- the command


def diagnose_command(
    ctx: typer.Context,
    *,
    server: ServerOption = None,
    user: UserOption = None,
    auth_user: AuthUserOption = None,
    password: PasswordOption = None,
    account_file: AccountFileOption = None,
    domain: DomainOption = None,
    ca_file: CaFileOption = None,
    insecure: InsecureOption = False,
    stun: Annotated[
        list[str] | None,
        typer.Option(
            "--stun",
            metavar="URL",
            help="A STUN server, stun:host[:port] (repeatable; with --turn, replaces the "
            "account file's ice_servers).",
            rich_help_panel=_CHECKS,
        ),
    ] = None,
    turn: Annotated[
        list[str] | None,
        typer.Option(
            "--turn",
            metavar="URL",
            help="A TURN server, turn:[USER:PASSWORD@]host[:port][?transport=tcp] (repeatable).",
            rich_help_panel=_CHECKS,
        ),
    ] = None,
    turn_user: Annotated[
        str | None,
        typer.Option(help="The TURN user for --turn URLs without one.", rich_help_panel=_CHECKS),
    ] = None,
    turn_password: Annotated[
        str | None,
        typer.Option(
            envvar="EXOTEL_VOICE_TURN_PASSWORD",
            show_envvar=True,
            help="The TURN password for --turn URLs without one.",
            rich_help_panel=_CHECKS,
        ),
    ] = None,
    register: Annotated[
        bool,
        typer.Option(
            "--register/--no-register",
            help="Really register (and unregister at the end), so userReg is the real "
            "answer of the registrar.",
            rich_help_panel=_CHECKS,
        ),
    ] = True,
    devices: Annotated[
        bool,
        typer.Option(
            "--devices/--no-devices",
            help="Report the microphone and speaker calls would use (micInfo, speakerInfo).",
            rich_help_panel=_CHECKS,
        ),
    ] = True,
    timeout: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            min=0.1,
            max=600,
            help="Longest wait for the server: the connection, and the registrar's answer.",
            rich_help_panel=_CHECKS,
        ),
    ] = 5.0,
    ice_timeout: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            min=0.1,
            max=600,
            help="Longest wait for each STUN/TURN server.",
            rich_help_panel=_CHECKS,
        ),
    ] = 2.0,
    report: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH",
            help="Where to save the troubleshooting report (a folder: "
            "troubleshooting_report_<date>.txt in it). Default: "
            "exotel-voice-diagnostics-<timestamp>.txt here.",
            rich_help_panel=_OUTPUT,
        ),
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON document (every key, status and description, the "
            "runtime and the report's path).",
            rich_help_panel=_OUTPUT,
        ),
    ] = False,
) -> int:
    """Diagnose a setup (the guide's 5.11): devices, server, registration and ICE.

    Exit status 0 when the server is reachable and the registration worked, 1 with one
    line saying what failed otherwise. The troubleshooting report is saved to a file.
    """
    output: Output = ctx.obj
    output.json_mode = json_output
    started = datetime.datetime.now()
    given = AccountOptions(
        server=server,
        user=user,
        auth_user=auth_user,
        password=password,
        domain=domain,
        ca_file=str(ca_file) if ca_file is not None else None,
        insecure=insecure or None,
    )
    if account_file is not None:
        given = given.over(load_account_file(account_file))
    account = dataclasses.replace(build_account(given), connect_timeout=timeout)
    if stun or turn:
        servers = [_ice_option("--stun", url) for url in stun or ()] + [
            _ice_option("--turn", url, username=turn_user, password=turn_password)
            for url in turn or ()
        ]
        account = dataclasses.replace(account, ice_servers=tuple(servers))
    target = _report_target(report, started)
    settings = _Settings(account, register, devices, timeout, ice_timeout)
    troubleshooting = _Report()
    with output.progress(f"diagnosing {account.aor} on {account.server}"):
        diagnosis = anyio.run(_diagnose, settings, troubleshooting, output, backend="asyncio")
        output.status("saving the report")
        try:
            saved = troubleshooting.save(target)
        except OSError as exc:
            raise CommandError(
                f"cannot write the report to {str(target)!r}: {exc.strerror or exc}"
            ) from None
    if json_output:
        output.document(diagnosis_document(diagnosis, saved))
    else:
        _show(output, diagnosis, saved)
    if diagnosis.interrupted is not None:
        raise CommandError(f"interrupted ({diagnosis.interrupted})", EXIT_INTERRUPTED)
    if diagnosis.failure is not None:
        raise CommandError(diagnosis.failure)
    return EXIT_OK
