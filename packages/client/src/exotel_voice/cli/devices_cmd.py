"""``exotel-voice devices``: the audio inputs and outputs this machine has, and defaults."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table

from exotel_voice.cli.output import Output
from sipmedia import AudioDevice, AudioDeviceList, list_audio_devices

__all__ = ["devices_command", "devices_document"]

NO_DEVICES = (
    "No audio devices found: this machine has no sound card, or PortAudio cannot reach "
    "one. Calls still work with files, tones and program audio (--play)."
)


def _device(device: AudioDevice, default: str | None) -> dict[str, Any]:
    fields = asdict(device)
    fields["kind"] = device.kind.value
    fields["default"] = device.id == default
    return fields


def devices_document(devices: AudioDeviceList) -> dict[str, Any]:
    """The listing as JSON-ready data."""
    return {
        "inputs": [_device(d, devices.default_input) for d in devices.inputs],
        "outputs": [_device(d, devices.default_output) for d in devices.outputs],
        "default_input": devices.default_input,
        "default_output": devices.default_output,
    }


def _table(title: str, devices: tuple[AudioDevice, ...], default: str | None) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("")
    table.add_column("name")
    table.add_column("id")
    table.add_column("host API")
    table.add_column("channels", justify="right")
    table.add_column("rate", justify="right")
    for device in devices:
        table.add_row(
            "*" if device.id == default else "",
            device.name,
            device.id,
            device.host_api,
            str(device.channels),
            f"{device.default_samplerate:g}",
        )
    return table


def devices_command(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
    timeout: Annotated[
        float, typer.Option(min=0.5, help="Longest wait for the device probe, seconds.")
    ] = 10.0,
) -> int:
    """List audio devices (microphones, speakers) and the defaults."""
    output: Output = ctx.obj
    with output.progress("looking for audio devices"):
        devices = list_audio_devices(timeout=timeout)
    if json_output:
        document = devices_document(devices)
        if not devices.inputs and not devices.outputs:
            document["message"] = NO_DEVICES
        output.document(document)
        return 0
    if not devices.inputs and not devices.outputs:
        output.line(NO_DEVICES)
        return 0
    for title, found, default in (
        ("Inputs (microphones)", devices.inputs, devices.default_input),
        ("Outputs (speakers)", devices.outputs, devices.default_output),
    ):
        if found:
            output.show(_table(title, found, default))
        else:
            output.line(f"{title}: none")
    output.line("* = the system default")
    return 0
