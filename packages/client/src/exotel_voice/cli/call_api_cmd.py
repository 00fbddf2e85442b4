"""``exotel-voice call-api``: place a call through Exotel's REST API (guide section 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from exotel_voice.cli.errors import CommandError, UsageProblem
from exotel_voice.cli.output import Output
from exotel_voice.errors import ConfigurationError
from exotel_voice.rest import (
    DEFAULT_SUBDOMAIN,
    ApiConnectionError,
    CallRecord,
    ConnectCallOptions,
    ExotelApiError,
    ExotelRestClient,
)

__all__ = ["call_api_command", "record_document"]

_API = "Exotel API"
_CALL = "Call"


def record_document(record: CallRecord) -> dict[str, Any]:
    """The call as JSON-ready data (Exotel's whole ``Call`` object under ``raw``)."""
    return {
        "sid": record.sid,
        "status": record.status,
        "from": record.from_,
        "to": record.to,
        "direction": record.direction,
        "date_created": record.date_created,
        "raw": dict(record.raw),
    }


def call_api_command(
    ctx: typer.Context,
    *,
    from_: Annotated[
        str,
        typer.Option(
            "--from",
            help="Called first: the web client's SIP user id, or an agent's number.",
            rich_help_panel=_CALL,
        ),
    ],
    to: Annotated[
        str,
        typer.Option(
            help="Connected once --from answers (E.164 preferred).", rich_help_panel=_CALL
        ),
    ],
    caller_id: Annotated[
        str,
        typer.Option(help="Your ExoPhone (virtual number) shown to both.", rich_help_panel=_CALL),
    ],
    api_key: Annotated[
        str,
        typer.Option(
            envvar="EXOTEL_API_KEY", show_envvar=True, help="API key.", rich_help_panel=_API
        ),
    ],
    api_token: Annotated[
        str,
        typer.Option(
            envvar="EXOTEL_API_TOKEN",
            show_envvar=True,
            help="API token (prefer the variable: a command line is visible to others).",
            rich_help_panel=_API,
        ),
    ],
    account_sid: Annotated[
        str,
        typer.Option(
            envvar="EXOTEL_ACCOUNT_SID", show_envvar=True, help="Account SID.", rich_help_panel=_API
        ),
    ],
    subdomain: Annotated[
        str,
        typer.Option(
            envvar="EXOTEL_SUBDOMAIN",
            show_envvar=True,
            help="The region's API host: api.exotel.com (Singapore) or api.in.exotel.com (Mumbai).",
            rich_help_panel=_API,
        ),
    ] = DEFAULT_SUBDOMAIN,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="Instead of --subdomain: the API's root URL (a private deployment, a test "
            "server).",
            rich_help_panel=_API,
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="Trust this CA (PEM).", rich_help_panel=_API
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1.0, help="Seconds to wait for Exotel.", rich_help_panel=_API)
    ] = 30.0,
    time_limit: Annotated[
        int | None, typer.Option(min=1, help="Longest call, seconds.", rich_help_panel=_CALL)
    ] = None,
    time_out: Annotated[
        int | None,
        typer.Option(min=1, help="Ring time before giving up, seconds.", rich_help_panel=_CALL),
    ] = None,
    record: Annotated[
        bool | None,
        typer.Option("--record/--no-record", help="Ask Exotel to record.", rich_help_panel=_CALL),
    ] = None,
    custom_field: Annotated[
        str | None,
        typer.Option(help="Passed back in callbacks and call details.", rich_help_panel=_CALL),
    ] = None,
    status_callback: Annotated[
        str | None,
        typer.Option(
            metavar="URL", help="Exotel POSTs the call's status here.", rich_help_panel=_CALL
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the call as JSON.")] = False,
) -> int:
    """Place a call through Exotel's REST API: ring --from, then connect it to --to."""
    output: Output = ctx.obj
    options: ConnectCallOptions = {}
    if time_limit is not None:
        options["time_limit"] = time_limit
    if time_out is not None:
        options["time_out"] = time_out
    if record is not None:
        options["record"] = record
    if custom_field is not None:
        options["custom_field"] = custom_field
    if status_callback is not None:
        options["status_callback"] = status_callback
    try:
        client = ExotelRestClient(
            api_key,
            api_token,
            account_sid,
            subdomain=None if base_url else subdomain,
            base_url=base_url,
            timeout=timeout,
            ca_file=ca_file,
        )
    except ConfigurationError as exc:
        raise UsageProblem(str(exc)) from None
    with client, output.progress(f"asking {client.base_url} to connect {from_} to {to}"):
        try:
            record_ = client.connect_call(from_, to, caller_id, **options)
        except ConfigurationError as exc:
            raise UsageProblem(str(exc)) from None
        except ApiConnectionError as exc:
            raise CommandError(
                f"{exc} (the call may have been placed all the same: check before retrying)"
            ) from None
        except ExotelApiError as exc:
            raise CommandError(f"Exotel refused the call: {exc}") from None
    if json_output:
        output.document(record_document(record_))
        return 0
    table = Table(title="Call placed", title_justify="left", show_header=False)
    table.add_column("field")
    table.add_column("value")
    for name, value in (
        ("sid", record_.sid),
        ("status", record_.status),
        ("from", record_.from_),
        ("to", record_.to),
        ("direction", record_.direction),
        ("created", record_.date_created),
    ):
        table.add_row(name, value or "")
    output.show(table)
    return 0
