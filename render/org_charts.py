"""Charts of an organisation's sweep: its frontier, and where the budget goes by role."""

from __future__ import annotations

import io

import numpy as np

from compplan.optimizer.org_sweep import OrgSweep


def sweep_charts(sweep: OrgSweep, per: str) -> dict[str, tuple[bytes, str]]:
    """The sweep's two charts, each as PNG and SVG.

    Parameters
    ----------
    sweep : OrgSweep
        The sweep.
    per : str
        The unit of time of money (``per period`` or ``per year``).

    Returns
    -------
    dict
        ``frontier`` (alignment against expected payout) and ``budget_split`` (each
        role's expected payout as the cap grows): ``(png, svg)``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    palette = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442")
    good = [p for p in sweep.points if p.expected_cost is not None]
    on = [p for p, f in zip(sweep.points, sweep.frontier(), strict=True) if f]
    charts = {}
    for name in ("frontier", "budget_split"):
        fig = Figure(figsize=(7.5, 4.2), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.grid(True, linewidth=0.4, alpha=0.5)
        if name == "frontier":
            ax.scatter([p.expected_cost / 1e6 for p in good], [p.alignment for p in good],
                       color="#9ca3af", s=18, label="plans at a cap")
            ax.plot([p.expected_cost / 1e6 for p in on], [p.alignment for p in on],
                    color=palette[0], marker="o", markersize=4, label="frontier")
            ax.set_xlabel(f"expected total payout {per} (million {sweep.currency})")
            ax.set_ylabel("organisation alignment")
            ax.set_title(f"{sweep.org}: alignment against cost", loc="left", fontsize=11)
        else:
            caps = np.array([p.cap / 1e6 for p in good])
            stacks = [np.array([p.role_cost[r] / 1e6 for p in good]) for r in sweep.roles]
            if len(good):
                ax.stackplot(caps, *stacks, colors=palette[:len(stacks)],
                             labels=[sweep.labels[r] for r in sweep.roles], alpha=0.9)
                ax.plot(caps, caps, color="#c62828", linestyle="--", linewidth=1.2,
                        label="the cap")
            ax.set_xlabel(f"organisation expected-cost cap {per} (million {sweep.currency})")
            ax.set_ylabel(f"expected payout (million {sweep.currency})")
            ax.set_title(f"{sweep.org}: where the budget goes as the cap grows", loc="left",
                         fontsize=11)
        # Below the chart, not over it (as the report's charts).
        fig.legend(loc="outside lower center", ncols=min(4, len(sweep.roles) + 1), fontsize=8,
                   frameon=False)
        png = io.BytesIO()
        svg = io.StringIO()
        fig.savefig(png, format="png", metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None})
        charts[name] = (png.getvalue(), svg.getvalue())
    return charts
