"""Charts of a batch: the alignment-cost and alignment-CVaR frontiers (PNG and SVG)."""

from __future__ import annotations

import io
import sys
from typing import Any

from compplan.models import fmt


def frontier_chart(points: Any, *, title: str, currency: str,
                   current: dict[str, Any] | None = None,
                   per: str = "per period") -> tuple[bytes, str]:
    """Draw the frontier: alignment against expected cost, and against CVaR.

    Parameters
    ----------
    points : pandas.DataFrame
        One row per candidate: ``id``, ``alignment``, ``expected_cost``, ``cvar``,
        ``frontier_cost`` and ``frontier_cvar``; rows without alignment (infeasible)
        are left out.
    title : str
        The chart's title.
    currency : str
        For the axis labels.
    per : str
        The unit of time of money, ``money_per(case)``: ``per period`` or ``per year``.
    current : dict, optional
        The case's current plan under the base case: ``alignment``,
        ``expected_cost`` and ``cvar``; marked with a star.

    Returns
    -------
    bytes, str
        The chart as PNG and as SVG.
    """
    # The object API with the Agg canvas: no pyplot, no global backend, no display.
    import_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Fixed margins: a constrained layout would double the drawing time.
    fig = Figure(figsize=(10, 4.2), dpi=100)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.9, wspace=0.06)
    FigureCanvasAgg(fig)
    feasible = points[points["alignment"].notna()]
    axes = fig.subplots(1, 2, sharey=True)
    for ax, column, flag, label in ((axes[0], "expected_cost", "frontier_cost",
                                     "expected total payout"),
                                    (axes[1], "cvar", "frontier_cvar", "CVaR of total payout")):
        _panel(ax, feasible, column, flag, current)
        ax.set_xlabel(f"{label} {per} (million {currency})")
        ax.grid(True, linewidth=0.4, alpha=0.5)
    axes[0].set_ylabel("expected alignment")
    axes[0].legend(loc="best", fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    png, svg = io.BytesIO(), io.StringIO()
    fig.savefig(png, format="png", metadata={"Software": None})
    fig.savefig(svg, format="svg", metadata={"Date": None})
    return png.getvalue(), svg.getvalue()


def import_matplotlib() -> None:
    """Import matplotlib itself, without the pyplot and pylab that Pyomo adds to it.

    Once Pyomo is imported (a batch has solved), its import hook runs its own set-up on
    the first ``import matplotlib``: importing ``matplotlib.pyplot`` and
    ``matplotlib.pylab``, which the charts do not use and which cost about as much as
    drawing the frontier. The hook is stood aside for that one import; Pyomo still sets
    matplotlib up if it ever asks for it (through its own ``attempt_import``).
    """
    if "matplotlib" in sys.modules:
        return
    hook = sys.modules.get("pyomo.common.dependencies")
    callbacks = getattr(getattr(hook, "DeferredImportCallbackFinder", None), "_callbacks", None)
    held = callbacks.pop("matplotlib", None) if isinstance(callbacks, dict) else None
    try:
        import matplotlib  # noqa: F401
    finally:
        if held is not None:
            assert isinstance(callbacks, dict)
            callbacks.setdefault("matplotlib", held)


def _panel(ax: Any, feasible: Any, column: str, flag: str,
           current: dict[str, Any] | None) -> None:
    if current is None or current.get(column) is None:
        _candidates(ax, feasible, column, flag, labels=True)
        return
    broken = current.get("broken") or []
    label = "current plan" + (f" ({fmt.breaks(broken)})" if broken else "")
    ax.scatter([current[column] * SCALE], [current["alignment"]], marker="*", s=140,
               color="tab:red", label=label, zorder=4)
    # Today's plan is often far from the candidates, squeezing them into a corner:
    # then a zoomed copy of the candidates fills the empty part of the panel.
    xs = [*feasible[column], current[column]]
    ys = [*feasible["alignment"], current["alignment"]]
    zoom = _share(feasible[column], xs) < ZOOM_BELOW and _share(feasible["alignment"], ys) < 0.5
    _candidates(ax, feasible, column, flag, labels=not zoom)
    if zoom:
        low = current["alignment"] < feasible["alignment"].min()
        inset = ax.inset_axes([0.42, 0.22, 0.52, 0.42] if low else [0.42, 0.5, 0.52, 0.42])
        _candidates(inset, feasible, column, flag, labels=True)
        inset.tick_params(labelsize=7)
        inset.grid(True, linewidth=0.4, alpha=0.5)
        ax.indicate_inset_zoom(inset, edgecolor="0.5")


#: Money axes in millions.
SCALE = 1e-6
#: Zoom in on the candidates when they span less than this share of the panel's width.
ZOOM_BELOW = 0.4


def _share(values: Any, everything: list[float]) -> float:
    span = max(everything) - min(everything)
    return float((values.max() - values.min()) / span) if span > 0 else 1.0


def _candidates(ax: Any, feasible: Any, column: str, flag: str, *, labels: bool) -> None:
    """Every candidate in grey, the frontier in blue, the ends of the frontier labelled."""
    on = feasible[feasible[flag].astype(bool)].sort_values([column, "alignment"])
    ax.scatter(feasible[column] * SCALE, feasible["alignment"], s=14, color="0.65",
               label="candidate", zorder=2)
    ax.plot(on[column] * SCALE, on["alignment"], "-o", color="tab:blue", markersize=5,
            linewidth=1.5, label="frontier", zorder=3)
    if not labels:
        return
    # Candidates with the same plan share a point: label it once, by its first id; with
    # many points only the two ends, so that labels do not pile up.
    distinct = on.assign(_x=on[column].round(0), _y=on["alignment"].round(7)) \
        .sort_values("id").drop_duplicates(["_x", "_y"]).sort_values([column, "alignment"])
    if len(distinct) > 5:
        distinct = distinct.iloc[[0, -1]]
    for i, (_, row) in enumerate(distinct.iterrows()):
        last = i == len(distinct) - 1 and i > 0  # inside the axes, left of its point
        ax.annotate(row["id"], (row[column] * SCALE, row["alignment"]), fontsize=7,
                    xytext=(-4 if last else 4, -10), textcoords="offset points",
                    ha="right" if last else "left", color="tab:blue")
