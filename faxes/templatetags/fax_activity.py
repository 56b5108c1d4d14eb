"""The dashboard home's fax activity (the home belongs to `accounts`, which must not import this
app): this month's totals and a bar chart of the last 30 days, drawn on the server as SVG."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template

from accounts.models import Account
from faxes.selectors import DayActivity, fax_activity

register = template.Library()

# The chart's drawing box, in SVG user units; the page scales it to its width.
CHART_WIDTH = 600
CHART_HEIGHT = 160
AXIS_HEIGHT = 18  # below the bars: the day labels
BAR_WIDTH = 8  # two bars a day, sent then received, in a 20-unit slot


@dataclass(frozen=True)
class Bar:
    series: str  # "sent" or "received"
    day: str  # ISO date
    count: int
    x: float
    y: float
    height: float


@dataclass(frozen=True)
class Label:
    x: float
    text: str
    anchor: str  # SVG text-anchor: today's label ends at the right edge, inside the chart


def activity_chart(days: list[DayActivity]) -> dict[str, Any]:
    """The bars (faxes a day, one bar per series and day that has any) and the day labels (one
    a week, and today) of the chart, scaled to the busiest day."""
    plot = CHART_HEIGHT - AXIS_HEIGHT
    slot = CHART_WIDTH / max(len(days), 1)
    busiest = max([1, *(max(day.sent, day.received) for day in days)])
    bars, labels = [], []
    for index, day in enumerate(days):
        left = index * slot + (slot - 2 * BAR_WIDTH) / 2
        for offset, series, count in ((0, "sent", day.sent), (BAR_WIDTH, "received", day.received)):
            if count:
                height = round(plot * count / busiest, 1)
                bars.append(
                    Bar(series, day.day.isoformat(), count, left + offset, plot - height, height)
                )
        if (len(days) - 1 - index) % 7 == 0:
            last = index == len(days) - 1
            x = CHART_WIDTH if last else index * slot + slot / 2
            labels.append(Label(x, day.day.strftime("%b %-d"), "end" if last else "middle"))
    return {
        "bars": bars,
        "labels": labels,
        "busiest": busiest,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "baseline": plot,
        "label_y": CHART_HEIGHT - 4,
    }


@register.inclusion_tag("faxes/_activity.html")
def account_fax_activity(account: Account) -> dict[str, Any]:
    """`{% account_fax_activity account %}`: this month's faxes and pages, sent and received,
    and the chart of the last 30 days, in the account's time zone."""
    activity = fax_activity(account=account)
    return {
        "account": account,
        "month": activity.month,
        "days": activity.days,
        "chart": activity_chart(activity.days),
    }
