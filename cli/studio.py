"""``compplan studio``: design a plan live in the browser (docs/studio.md)."""

from __future__ import annotations

from typing import Any

import click

from compplan.api import is_organisation
from compplan.cli.common import ExitError, Reporter, fail, out_console
from compplan.errors import CompplanError


@click.command("studio")
@click.argument("case", required=False, type=click.Path(file_okay=False))
@click.option("--plan", "plan", metavar="PLAN",
              help="A plan to start from besides the current plan (a plan.json or a TOML "
                   "plan); the page opens on it.")
@click.option("--actuals", "actuals_file", type=click.Path(dir_okay=False),
              help="Attainment of the elapsed periods of the plan year (the form of "
                   "attainment.csv): the page adds the year so far (as `compplan pulse`, "
                   "without the re-tune).")
@click.option("--year-periods", type=click.IntRange(min=1),
              help="With --actuals: periods in the plan year (default: [case] "
                   "periods_per_year, else the periods of the case's history).")
@click.option("--port", type=click.IntRange(1, 65535),
              help="The port on 127.0.0.1 (default: a free one).")
@click.option("--no-browser", is_flag=True, help="Print the address; open no browser.")
def studio_command(case: str | None, plan: str | None, actuals_file: str | None,
                   year_periods: int | None, port: int | None, no_browser: bool) -> None:
    """Serve a local web page to design CASE's plan live, until Ctrl-C.

    The plan's metrics, weights and accelerators as sliders; its figures (expected
    payout, P90 and CVaR against their caps, every guardrail, alignment and its
    share of the best plan, rep earnings, segments, payout curves) updating as
    they move. Lock a weight, require or forbid a metric, move any budget or
    fairness limit, then Optimise, Round or find the min budget; keep candidates
    and compare them; save a plan file and export the report or workbook. With
    --actuals, the year so far under the plan on screen (as `compplan pulse`).

    For a folder holding org.toml: a tab per role, each role's plan moved as above
    (from today's plans), and the organisation's expected payout and CVaR against
    its caps, its rules and the conflict map, as `compplan evaluate ORG_DIR` shows them.

    The page is served on 127.0.0.1 only, on a free port unless --port is given;
    the address printed carries a one-time token that every request needs. The
    page's URL holds its state as `compplan evaluate`'s modifiers, so a link
    reproduces a candidate in any studio of the same case.

    Example:

    \b
        compplan studio cases/enterprise_first
        compplan studio cases/enterprise_first --plan plans/fy27/plan.json --port 8765 --no-browser
        compplan studio cases/gtm_org
    """  # noqa: D301 (\b keeps click from rewrapping the example)
    from compplan.studio.server import serve
    from compplan.studio.session import open_session

    session: Any
    if is_organisation(case):
        for option, value in (("--plan", plan), ("--actuals", actuals_file)):
            if value is not None:
                raise ExitError(f"{option} applies to a case folder; the studio of an "
                                "organisation starts from every role's current plan", 2)
    try:
        with Reporter(False) as reporter:
            reporter.step("reading the case and computing its payouts once")
            if is_organisation(case):
                from compplan.studio.org import open_org_session

                session = open_org_session(str(case))
            else:
                session = open_session(case, plan, actuals=actuals_file,
                                       year_periods=year_periods)
        serve(session, port=port, open_browser=not no_browser,
              say=lambda text: out_console.out(text, highlight=False))
    except CompplanError as exc:
        fail(exc)


COMMANDS: list[click.Command] = [studio_command]
