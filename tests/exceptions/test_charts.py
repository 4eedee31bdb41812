"""The SVG charts: well-formed, accessible, escaped, and honest about gaps, negatives and no data."""

import xml.etree.ElementTree as ET

import pytest

from exceptions.charts import Scale, Series, bar_chart, format_value, line_chart

SVG = "{http://www.w3.org/2000/svg}"
WEEKS = ["W1", "W2", "W3", "W4"]


def parse(html: str) -> ET.Element:
    """The chart is a well-formed fragment: a <figure> with the <svg> and the data table."""
    return ET.fromstring(html)  # noqa: S314 - our own output, not untrusted input


def svg_of(figure: ET.Element) -> ET.Element:
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    return svg


def series_groups(svg: ET.Element) -> list[ET.Element]:
    return [g for g in svg.iter(f"{SVG}g") if "chart-series" in g.get("class", "").split()]


def test_chart_is_named_and_described_for_screen_readers():
    figure = parse(line_chart(title="Time to resolve", x_labels=WEEKS, series=[Series("p50", [1, 2, 3, 4])]))
    svg = svg_of(figure)

    assert svg.get("role") == "img"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title is not None
    assert desc is not None
    assert title.text == "Time to resolve"
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert desc.text == "p50 over W1 to W4; values from 1 to 4. The data table that follows lists every value."


def test_hidden_data_table_lists_every_value_with_gaps_named():
    figure = parse(
        line_chart(
            title="Rates",
            x_labels=WEEKS,
            series=[Series("Touchless", [0.5, None, 0.25, 1]), Series("On time", [1, 1, None, 0.125])],
            y_label="share",
        )
    )
    table = figure.find("table")
    assert table is not None
    assert "visually-hidden" in table.get("class", "")
    assert table.findtext("caption") == "Rates (share)"
    assert [th.text for th in table.iter("th")][:3] == ["Period", "Touchless", "On time"]
    body = table.find("tbody")
    assert body is not None
    rows = [[cell.text for cell in tr] for tr in body]
    assert rows == [
        ["W1", "0.5", "1"],
        ["W2", "no data", "1"],
        ["W3", "0.25", "no data"],
        ["W4", "1", "0.12"],
    ]


def test_malicious_series_name_and_labels_are_escaped():
    evil = '<script>alert("x")</script>'
    html = line_chart(
        title=f"Title {evil}",
        x_labels=[f"W {evil}", "W2"],
        series=[Series(evil, [1, 2]), Series(f"bar {evil}", [1, 2], kind="bar")],
        y_label=evil,
    )

    assert "<script>" not in html
    figure = parse(html)  # still well-formed: nothing broke out of its element
    svg = svg_of(figure)
    assert svg.findtext(f"{SVG}title") == f"Title {evil}"
    legend = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "chart-legend-label"]
    assert legend == [evil, f"bar {evil}"]
    assert not list(figure.iter("script"))
    assert not list(figure.iter(f"{SVG}script"))


def test_none_lifts_the_pen_and_draws_no_point():
    svg = svg_of(parse(line_chart(title="Gaps", x_labels=WEEKS, series=[Series("a", [1, 2, None, 4])])))
    (group,) = series_groups(svg)
    path = group.find(f"{SVG}path")
    assert path is not None
    d = path.get("d", "")
    assert d.count("M") == 2  # two runs: W1-W2, then W4 alone
    assert d.count("L") == 1
    points = group.findall(f"{SVG}circle")
    assert len(points) == 3
    assert [point.findtext(f"{SVG}title") for point in points] == ["W1: a 1", "W2: a 2", "W4: a 4"]
    assert {point.get("fill-opacity") for point in points} == {None}  # few points: marked


def test_step_series_holds_each_value_across_its_slot():
    svg = svg_of(parse(line_chart(title="Balance", x_labels=WEEKS, series=[Series("b", [3, 3, -1, 2], "step")])))
    path = series_groups(svg)[0].find(f"{SVG}path")
    assert path is not None
    d = path.get("d", "")
    assert d.startswith("M")
    assert d.count("H") == 4
    assert d.count("V") == 3


def test_negative_values_get_a_zero_line_and_bars_below_it():
    svg = svg_of(parse(line_chart(title="Balance", x_labels=WEEKS, series=[Series("Net", [5, -3, 0, 2], kind="bar")])))
    zero = [line for line in svg.iter(f"{SVG}line") if line.get("class") == "chart-zero"]
    assert len(zero) == 1
    zero_y = float(zero[0].get("y1", ""))
    bars = series_groups(svg)[0].findall(f"{SVG}rect")
    assert len(bars) == 4
    negative = [bar for bar in bars if "chart-bar-negative" in bar.get("class", "")]
    assert len(negative) == 1
    assert float(negative[0].get("y", "")) == pytest.approx(zero_y, abs=0.1)  # hangs from the zero line
    positive = bars[0]
    top, height = float(positive.get("y", "")), float(positive.get("height", ""))
    assert top + height == pytest.approx(zero_y, abs=0.1)  # stands on it
    tick_labels = [t.text for t in svg.iter(f"{SVG}text") if "chart-y-tick" in t.get("class", "")]
    assert tick_labels == ["-4", "-2", "0", "2", "4", "6"]


def test_the_axis_can_be_held_to_a_full_scale():
    svg = svg_of(
        parse(line_chart(title="Share", x_labels=WEEKS, series=[Series("a", [40, 50, 45, 60])], y_include=(100,)))
    )
    tick_labels = [t.text for t in svg.iter(f"{SVG}text") if "chart-y-tick" in t.get("class", "")]
    assert tick_labels == ["0", "20", "40", "60", "80", "100"]


def test_no_zero_line_when_every_value_is_positive():
    svg = svg_of(parse(line_chart(title="T", x_labels=WEEKS, series=[Series("a", [1, 2, 3, 4])])))
    assert not [line for line in svg.iter(f"{SVG}line") if line.get("class") == "chart-zero"]


@pytest.mark.parametrize(
    "series",
    [[], [Series("a", [None, None, None, None])]],
    ids=["no-series", "all-gaps"],
)
def test_empty_chart_says_there_is_no_data(series):
    figure = parse(line_chart(title="Nothing yet", x_labels=WEEKS, series=series))
    svg = svg_of(figure)

    assert svg.findtext(f"{SVG}desc") == "No data to show."
    assert [t.text for t in svg.iter(f"{SVG}text")] == ["No data to show"]
    assert not series_groups(svg)
    assert figure.find("table") is None


def test_empty_x_axis_is_an_empty_chart():
    svg = svg_of(parse(line_chart(title="Nothing", x_labels=[], series=[])))
    assert svg.findtext(f"{SVG}desc") == "No data to show."


def test_legend_has_one_entry_per_series_in_order_with_its_kind():
    svg = svg_of(
        parse(
            line_chart(
                title="Mixed",
                x_labels=WEEKS,
                series=[
                    Series("Opened", [1, 2, 3, 4], kind="bar", css_class="chart-muted"),
                    Series("p50", [1, 2, 3, 4]),
                    Series("Target", [2, 2, 2, 2], kind="dashed"),
                ],
            )
        )
    )
    legend = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "chart-legend")
    entries = list(legend)
    assert [e.get("class") for e in entries] == [
        "chart-s0 chart-bar chart-muted",
        "chart-s1 chart-line",
        "chart-s2 chart-dashed",
    ]
    assert entries[0].find(f"{SVG}rect") is not None
    dashed = entries[2].find(f"{SVG}line")
    assert dashed is not None
    assert dashed.get("stroke-dasharray") == "6 4"
    # Bars are drawn first so lines stay visible on top of them.
    assert [g.get("class", "").split()[2] for g in series_groups(svg)] == ["chart-bar", "chart-line", "chart-dashed"]


def test_long_time_axes_thin_their_labels():
    labels = [f"2026-12-{i % 30 + 1:02d}" for i in range(84)]  # twelve weeks of days
    svg = svg_of(parse(line_chart(title="Days", x_labels=labels, series=[Series("a", [1.0] * 84)])))
    shown = [t.text for t in svg.iter(f"{SVG}text") if "chart-x-tick" in t.get("class", "")]
    assert shown[0] == "2026-12-01"
    assert 4 <= len(shown) < 84
    points = series_groups(svg)[0].findall(f"{SVG}circle")
    assert len(points) == 84  # each keeps its tooltip...
    assert {point.get("fill-opacity") for point in points} == {"0"}  # ...but 84 markers would hide the line


def test_bar_chart_labels_every_category_and_shortens_long_names():
    long_name = "Acme Industrial Supply and Distribution Company of the Greater Midwest"
    figure = parse(
        bar_chart(
            title="Touchless by supplier",
            categories=["BOLT", long_name, "ZED"],
            series=[Series("Touchless", [0.5, 1, 0], kind="line")],
        )
    )
    svg = svg_of(figure)
    shown = [t.text or "" for t in svg.iter(f"{SVG}text") if "chart-x-tick" in t.get("class", "")]
    assert shown[0] == "BOLT"
    assert shown[1].endswith("…")
    assert long_name.startswith(shown[1][:-1])
    assert len(series_groups(svg)[0].findall(f"{SVG}rect")) == 3
    row_headers = [th.text for th in figure.iter("th") if th.get("scope") == "row"]
    assert row_headers == ["BOLT", long_name, "ZED"]


def test_mismatched_lengths_and_unknown_kinds_are_refused():
    with pytest.raises(ValueError, match="has 3 values for 4 labels"):
        line_chart(title="T", x_labels=WEEKS, series=[Series("a", [1, 2, 3])])
    with pytest.raises(ValueError, match="kind must be one of"):
        line_chart(title="T", x_labels=WEEKS, series=[Series("a", [1, 2, 3, 4], kind="pie")])


@pytest.mark.parametrize(
    ("values", "ticks"),
    [
        ([0, 7], [0, 2, 4, 6, 8]),
        ([0, 100], [0, 20, 40, 60, 80, 100]),
        ([0, 0.9], [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        ([-12, 30], [-20, -10, 0, 10, 20, 30]),
        ([0, 0], [0, 1]),
        ([0, 3], [0, 1, 2, 3]),  # whole numbers (counts) get whole ticks
        ([0, 0.5], [0, 0.1, 0.2, 0.3, 0.4, 0.5]),
        ([0, 1200], [0, 250, 500, 750, 1000, 1250]),
    ],
)
def test_scale_picks_round_ticks_including_zero(values, ticks):
    assert Scale.fit(values).ticks() == pytest.approx(ticks)


def test_tick_labels_use_the_steps_precision():
    assert [Scale.fit([0, 1200]).label(t) for t in Scale.fit([0, 1200]).ticks()][-2:] == ["1,000", "1,250"]
    assert Scale.fit([0, 0.9]).label(0.4) == "0.4"


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "no data"), (3, "3"), (2.5, "2.5"), (1 / 3, "0.33"), (-0.001, "0"), (12345.678, "12,345.68")],
)
def test_values_are_formatted_without_float_noise(value, text):
    assert format_value(value) == text
