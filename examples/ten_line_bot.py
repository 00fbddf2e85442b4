"""A bot in ten lines: answer every call with a beep, then echo the caller back.

Usage (the password comes from the environment, never the command line):

    EXOTEL_VOICE_PASSWORD=... python examples/ten_line_bot.py wss://sip.example.com/ bot example.com
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

from exotel_voice import Account, CallStateError, Phone, Tone


async def main() -> None:
    server, user, domain = sys.argv[1:4]
    async with Phone(Account(user, os.environ["EXOTEL_VOICE_PASSWORD"], domain, server)) as phone:
        async for call in phone.incoming():  # one call after another
            with contextlib.suppress(CallStateError):  # raised if they hang up first
                await call.answer(Tone(880))  # a beep says hello...
                await asyncio.sleep(1)
                await call.echo()  # ...then the caller hears themselves


asyncio.run(main())
