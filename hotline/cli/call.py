"""``hotline call``: place one test call with SIPp and say, in plain words, what happened."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from tooling.sipp.runner import CallerProcess, CallResult, start_caller
from tooling.sipp.scenario import CallerScript

MAX_HOLD_SECONDS = 300.0
SIP_REASONS = {
    403: "Forbidden (this address may not call in)", 404: "Not Found (the number is not routed)",
    408: "Request Timeout", 480: "Temporarily Unavailable", 484: "Address Incomplete", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here (no common codec)", 500: "Server Internal Error",
    502: "Bad Gateway", 503: "Service Unavailable", 603: "Decline",
}


def parse_key_groups(keys: str) -> list[str]:
    """``"3,01"`` → ``["3", "01"]``; spaces are ignored, empty groups dropped."""
    groups = [group.replace(" ", "") for group in keys.split(",")]
    return [group for group in groups if group]


def describe_step(step: str) -> str:
    """A scenario log line's step (``"keys 01"``) in plain words."""
    kind, _, rest = step.partition(" ")
    if kind == "wait":
        return f"Listening for {rest}…"
    if kind == "keys":
        return f"Pressing {' '.join(rest)}"
    if kind == "speak":
        return f"Speaking {rest}…"
    if kind == "await":
        return "Staying on the line until the hotline hangs up…"
    return "Hanging up."


def describe_outcome(result: CallResult) -> str:
    """One sentence on how the call ended."""
    seconds = f"{result.elapsed:.0f} s"
    if result.outcome == "remote_bye":
        return f"The hotline hung up; the call lasted {seconds}."
    if result.outcome == "local_bye":
        held = " (the hotline had not hung up by the end of --hold)" if result.hold_expired else ""
        return f"We hung up{held}; the call lasted {seconds}."
    if result.outcome == "rejected":
        code = result.status_code or 0
        return f"The call was refused: {code} {SIP_REASONS.get(code, '')}".rstrip()
    if result.outcome == "no_response":
        return "No response at all: is Asterisk running there, and does it accept calls from this address?"
    if result.outcome == "no_answer":
        return "Nobody answered; we cancelled the call."
    return "The call failed before it could end normally."


def _follow(process: CallerProcess) -> None:
    """Print each new step from the scenario's log until SIPp exits."""
    seen, rang = 0, False
    while True:
        try:
            process.wait(0.25)
            done = True
        except TimeoutError:
            done = False
        lines = process.log_lines()
        for line in lines[seen:]:
            word, _, rest = line.partition(" ")
            if word == "RINGING" and not rang:
                rang = True
                click.echo("Ringing…")
            elif word == "ANSWERED":
                click.echo("Answered.")
            elif word == "STEP":
                click.echo(describe_step(rest.partition(" ")[2]))
        seen = len(lines)
        if done:
            return


@click.command("call")
@click.option("--to", "dialled", default="1022", show_default=True, help="Number to dial.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Asterisk's SIP address.")
@click.option("--port", default=5060, show_default=True, type=int, help="Asterisk's SIP port.")
@click.option("--from", "caller", default="0912345678", show_default=True, help="Caller number to present.")
@click.option("--keys", default="", help='Keys to press; commas separate groups pressed apart, e.g. "3,01".')
@click.option("--speak", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A WAV file to say after the keys (e.g. into voicemail).")
@click.option("--hold", type=click.FloatRange(0, MAX_HOLD_SECONDS), default=None,
              help=f"Seconds to stay on the line after the keys, then hang up "
                   f"[default: until the hotline hangs up, at most {MAX_HOLD_SECONDS:.0f}].")
@click.option("--wait-before-keys", type=click.FloatRange(0, 120), default=11.0, show_default=True,
              help="Seconds to listen to the welcome prompt before the first key.")
@click.option("--pause-between-keys", type=click.FloatRange(0, 120), default=3.0, show_default=True,
              help="Seconds between key groups.")
@click.option("--answer-timeout", type=click.FloatRange(1, 300), default=60.0, show_default=True,
              help="Give up if nobody answers within this many seconds.")
@click.option("--keep-logs", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for SIPp's scenario, pcaps and logs (default: a new temporary one).")
def call_command(dialled: str, host: str, port: int, caller: str, keys: str, speak: Path | None,
                 hold: float | None, wait_before_keys: float, pause_between_keys: float,
                 answer_timeout: float, keep_logs: Path | None) -> None:
    """Place a test call to the hotline with SIPp, press keys, and report what happened."""
    groups = parse_key_groups(keys)
    bad = sorted({key for group in groups for key in group.upper() if key not in "0123456789*#ABCD"})
    if bad:
        raise click.BadParameter(f"not phone keys: {' '.join(bad)} (use 0-9, * and #)", param_hint="--keys")
    script = CallerScript.from_keys(groups, wait_before_keys=wait_before_keys if groups or speak else 0,
                                    pause_between=pause_between_keys, speak=speak, hold=hold)
    click.echo(f"Calling {dialled} at {host}:{port} from {caller}…")
    process = start_caller(host, port, dialled, script, caller=caller, answer_timeout=answer_timeout,
                           workdir=keep_logs)
    try:
        _follow(process)
        result = process.result()
    except KeyboardInterrupt:
        process.terminate()
        click.echo("Interrupted: the call was dropped without hanging up; Asterisk clears it by itself.")
        sys.exit(130)
    finally:
        process.terminate()
    click.echo(describe_outcome(result))
    for problem in result.problems[:5]:
        click.echo(f"  sipp: {problem}", err=True)
    click.echo(f"SIPp's logs: {result.workdir}")
    sys.exit(0 if result.ok else 1)
