//! Charts drawn on the server as inline SVG: time series (one line per version, label or
//! variant) with axes, "nice" ticks, a legend and a `<title>` tooltip on every point.
//!
//! No script and no external request: the SVG is part of the page, coloured by classes the
//! stylesheet defines for light and dark mode (`.chart .s0` …), and it carries no inline
//! `style` (the pages' Content-Security-Policy forbids them). Each chart sits next to a table
//! of the same numbers, for screen readers and for copying.

use std::fmt::Write;

use crate::highlight::escape;

/// The drawing's size in SVG units; the stylesheet scales it to the width of its box.
const WIDTH: f64 = 400.0;
const HEIGHT: f64 = 180.0;
/// Room for the y axis labels (left), the x axis labels (bottom) and breathing space.
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// Distinct colours (`.s0` … `.s7`); further series reuse them.
const PALETTE: usize = 8;

/// What a chart's numbers are, for its axis labels and tooltips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// A count (renders, tokens).
    Count,
    /// A share from 0 to 1, shown as a percentage.
    Ratio,
    /// Milliseconds.
    Millis,
    /// US dollars.
    Dollars,
}

impl Unit {
    /// `value` as a person reads it: `1.2k`, `4.5 %`, `12 ms`, `$0.0012`.
    pub(crate) fn format(self, value: f64) -> String {
        match self {
            Unit::Count => compact(value),
            Unit::Ratio => {
                let pct = value * 100.0;
                if pct == 0.0 || pct >= 10.0 {
                    format!("{pct:.0} %")
                } else {
                    format!("{pct:.1} %")
                }
            }
            Unit::Millis => {
                if value >= 1000.0 {
                    format!("{:.1} s", value / 1000.0)
                } else if value >= 10.0 || value == 0.0 {
                    format!("{value:.0} ms")
                } else {
                    format!("{value:.2} ms")
                }
            }
            Unit::Dollars => {
                if value >= 1.0 || value == 0.0 {
                    format!("${value:.2}")
                } else {
                    format!("${value:.4}")
                }
            }
        }
    }
}

/// `1234` → `1.2k`, `2500000` → `2.5M`; small numbers as they are (two decimals at most).
fn compact(value: f64) -> String {
    let abs = value.abs();
    let (scaled, suffix) = if abs >= 1e9 {
        (value / 1e9, "G")
    } else if abs >= 1e6 {
        (value / 1e6, "M")
    } else if abs >= 1e4 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    let text = if suffix.is_empty() && scaled.fract() != 0.0 {
        format!("{scaled:.2}")
    } else if scaled.fract() == 0.0 || scaled.abs() >= 100.0 {
        format!("{scaled:.0}")
    } else {
        format!("{scaled:.1}")
    };
    format!("{text}{suffix}")
}

/// One line of a chart: a name for the legend and its points, `(time in seconds, value)`;
/// `None` is a bucket without data (the line breaks there).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    /// The legend's text (a version, a label, a variant).
    pub(crate) name: String,
    /// The points, in time order.
    pub(crate) points: Vec<(i64, Option<f64>)>,
}

/// A time-series chart.
#[derive(Debug, Clone)]
pub(crate) struct Chart<'a> {
    /// What it shows (`Renders per hour`), the SVG's accessible title.
    pub(crate) title: &'a str,
    /// The unit of the values.
    pub(crate) unit: Unit,
    /// The lines.
    pub(crate) series: &'a [Series],
    /// The time range shown, in seconds (the x axis spans it even where there is no data).
    pub(crate) from: i64,
    /// The end of the range.
    pub(crate) to: i64,
}

impl Chart<'_> {
    /// The chart as an `<svg>` element (HTML-safe: every text is escaped).
    pub(crate) fn svg(&self) -> String {
        let mut out = String::with_capacity(4096);
        let title = escape(self.title);
        let _ = write!(
            out,
            r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}" preserveAspectRatio="xMidYMid meet"><title>{title}</title>"#
        );
        let values = || self.series.iter().flat_map(|s| s.points.iter().filter_map(|p| p.1));
        let max = values().fold(f64::NAN, f64::max);
        if !max.is_finite() {
            let _ = write!(
                out,
                r#"<text class="chart-empty" x="{}" y="{}" text-anchor="middle">No data in this range</text></svg>"#,
                WIDTH / 2.0,
                HEIGHT / 2.0
            );
            return out;
        }
        let min = values().fold(f64::INFINITY, f64::min).min(0.0);
        let ticks = nice_ticks(min, max, 4);
        let (y_lo, y_hi) = (ticks[0], ticks[ticks.len() - 1]);
        let (from, to) = if self.to > self.from {
            (self.from, self.to)
        } else {
            (self.from, self.from + 1)
        };
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let x = |t: i64| LEFT + (t - from) as f64 / (to - from) as f64 * plot_w;
        let y = |v: f64| TOP + plot_h - (v - y_lo) / (y_hi - y_lo) * plot_h;

        // Horizontal grid lines with their values.
        for tick in &ticks {
            let ty = y(*tick);
            let _ = write!(
                out,
                r#"<line class="chart-grid" x1="{LEFT}" x2="{}" y1="{ty:.1}" y2="{ty:.1}"/><text class="chart-tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                WIDTH - RIGHT,
                LEFT - 6.0,
                ty + 4.0,
                escape(&self.unit.format(*tick))
            );
        }
        // Time ticks at round times (every 15 minutes, 6 hours, a week …) inside the range.
        let span = to - from;
        for t in time_ticks(from, to) {
            let tx = x(t);
            let anchor = if tx - LEFT < 16.0 {
                "start"
            } else if WIDTH - RIGHT - tx < 16.0 {
                "end"
            } else {
                "middle"
            };
            let _ = write!(
                out,
                r#"<line class="chart-grid" x1="{tx:.1}" x2="{tx:.1}" y1="{}" y2="{}"/><text class="chart-tick" x="{tx:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
                TOP + plot_h,
                TOP + plot_h + 4.0,
                HEIGHT - 8.0,
                time_label(t, span)
            );
        }
        // The lines, broken where a bucket has no data, and a marker with a tooltip per point.
        for (i, series) in self.series.iter().enumerate() {
            let class = format!("s{}", i % PALETTE);
            let name = escape(&series.name);
            let mut path = String::new();
            let mut pen_down = false;
            for &(t, v) in &series.points {
                match v {
                    Some(v) => {
                        let _ = write!(path, "{}{:.1},{:.1} ", if pen_down { 'L' } else { 'M' }, x(t), y(v));
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            let _ = write!(
                out,
                r#"<g class="{class}"><path class="chart-line" d="{}"/>"#,
                path.trim_end()
            );
            for &(t, v) in &series.points {
                if let Some(v) = v {
                    let _ = write!(
                        out,
                        r#"<circle class="chart-dot" cx="{:.1}" cy="{:.1}" r="2.5"><title>{name} · {} · {}</title></circle>"#,
                        x(t),
                        y(v),
                        full_time(t),
                        escape(&self.unit.format(v))
                    );
                }
            }
            out.push_str("</g>");
        }
        out.push_str("</svg>");
        out
    }

    /// The legend: one entry per series, with its colour, as HTML.
    pub(crate) fn legend(&self) -> String {
        let mut out = String::from(r#"<ul class="chart-legend">"#);
        for (i, series) in self.series.iter().enumerate() {
            let _ = write!(
                out,
                r#"<li><span class="chart-key s{}" aria-hidden="true"></span>{}</li>"#,
                i % PALETTE,
                escape(&series.name)
            );
        }
        out.push_str("</ul>");
        out
    }
}

/// About `count` + 1 round tick values covering `[min, max]`: steps of 1, 2, 2.5 or 5 × 10ⁿ.
fn nice_ticks(min: f64, max: f64, count: usize) -> Vec<f64> {
    let (min, max) = if max > min {
        (min, max)
    } else {
        (min, min + min.abs().max(1.0))
    };
    let range = max - min;
    let raw = range / count as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let lo = (min / step).floor() * step;
    let mut hi = (max / step).ceil() * step;
    if hi <= lo {
        hi = lo + step;
    }
    let steps = ((hi - lo) / step).round() as usize;
    (0..=steps).map(|i| lo + step * i as f64).collect()
}

/// Round times between `from` and `to` (unix seconds), at most six: the smallest step of
/// 1, 5, 15 or 30 minutes, 1, 3, 6 or 12 hours, 1, 2 or 7 days that keeps them that few.
fn time_ticks(from: i64, to: i64) -> Vec<i64> {
    const STEPS: [i64; 13] = [
        60, 300, 900, 1_800, 3_600, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800, 1_209_600, 2_592_000,
    ];
    let span = (to - from).max(1);
    let step = STEPS.into_iter().find(|s| span / s <= 6).unwrap_or(span);
    let first = (from + step - 1).div_euclid(step) * step;
    (0..).map(|i| first + i * step).take_while(|t| *t <= to).collect()
}

/// A tick's time: the hour and minute within two days, else the month and day.
fn time_label(t: i64, span: i64) -> String {
    let Some(at) = chrono::DateTime::from_timestamp(t, 0) else {
        return String::new();
    };
    if span <= 2 * 86_400 {
        at.format("%H:%M").to_string()
    } else {
        at.format("%b %d").to_string()
    }
}

/// A point's time in its tooltip.
fn full_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(String::new, |at| at.format("%Y-%m-%d %H:%M UTC").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, points: &[(i64, Option<f64>)]) -> Series {
        Series {
            name: name.into(),
            points: points.to_vec(),
        }
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 97.0, 4), vec![0.0, 25.0, 50.0, 75.0, 100.0]);
        assert_eq!(nice_ticks(0.0, 130.0, 4), vec![0.0, 50.0, 100.0, 150.0]);
        assert_eq!(nice_ticks(0.0, 1.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(nice_ticks(0.0, 0.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        let t = nice_ticks(0.0, 0.0123, 4);
        assert!(t[0] == 0.0 && *t.last().unwrap() >= 0.0123 && t.len() <= 6, "{t:?}");
    }

    #[test]
    fn a_chart_draws_each_series_with_tooltips_and_breaks_at_gaps() {
        let lines = [
            series("1.2.0", &[(0, Some(10.0)), (60, None), (120, Some(30.0))]),
            series("1.3.0 <b>", &[(0, Some(5.0)), (60, Some(7.0)), (120, Some(9.0))]),
        ];
        let chart = Chart {
            title: "Renders per minute",
            unit: Unit::Count,
            series: &lines,
            from: 0,
            to: 120,
        };
        let svg = chart.svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"aria-label="Renders per minute""#));
        // The gap starts a new sub-path: two M commands in the first series.
        let first = svg
            .split(r#"<g class="s0">"#)
            .nth(1)
            .unwrap()
            .split("</g>")
            .next()
            .unwrap();
        assert_eq!(first.matches('M').count(), 2, "{first}");
        assert_eq!(svg.matches("<circle").count(), 5);
        assert!(svg.contains("1.3.0 &lt;b&gt; · 1970-01-01 00:01 UTC · 7"), "{svg}");
        assert!(!svg.contains("<b>"), "names are escaped");
        assert!(!svg.contains("style="), "no inline styles under the CSP");
        assert!(chart.legend().contains("1.3.0 &lt;b&gt;"));
        // Round time ticks: 0:00, 0:01 and 0:02 for two minutes.
        assert_eq!(time_ticks(0, 120), vec![0, 60, 120]);
        assert_eq!(
            time_ticks(90, 86_400 + 90),
            (1..=4).map(|i| i * 21_600).collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_empty_chart_says_so() {
        let none = [series("1.0.0", &[(0, None)])];
        let chart = Chart {
            title: "Errors",
            unit: Unit::Ratio,
            series: &none,
            from: 0,
            to: 0,
        };
        assert!(chart.svg().contains("No data in this range"));
    }

    #[test]
    fn units_read_as_people_write_them() {
        assert_eq!(Unit::Count.format(1234.0), "1234");
        assert_eq!(Unit::Count.format(12_345.0), "12.3k");
        assert_eq!(Unit::Count.format(2_500_000.0), "2.5M");
        assert_eq!(Unit::Ratio.format(0.045), "4.5 %");
        assert_eq!(Unit::Ratio.format(0.5), "50 %");
        assert_eq!(Unit::Millis.format(1.234), "1.23 ms");
        assert_eq!(Unit::Millis.format(1500.0), "1.5 s");
        assert_eq!(Unit::Dollars.format(0.00123), "$0.0012");
        assert_eq!(Unit::Dollars.format(12.0), "$12.00");
    }
}
