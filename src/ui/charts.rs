//! Chart geometry for the fleet page's server-drawn SVG: pure functions from counts to
//! coordinates. The templates draw them (and escape every label), so no markup is built here.

/// One horizontal bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    /// Top of the bar.
    pub y: u32,
    pub width: u32,
    /// Baseline of the label and value texts.
    pub text_y: u32,
    /// Where the value text starts (just right of the bar).
    pub value_x: u32,
}

/// A horizontal bar chart: one bar per label, the longest filling the plot width.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub width: u32,
    pub height: u32,
    /// Left edge of the bars (labels sit left of it).
    pub plot_x: u32,
    pub bars: Vec<Bar>,
}

const BAR_H: u32 = 18;
const BAR_GAP: u32 = 6;
const LABEL_W: u32 = 110;
const VALUE_W: u32 = 48;

pub fn bars(items: &[(String, i64)], width: u32) -> BarChart {
    let plot = width.saturating_sub(LABEL_W + VALUE_W).max(1);
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let bars = items
        .iter()
        .enumerate()
        .map(|(i, (label, value))| {
            let y = i as u32 * (BAR_H + BAR_GAP);
            let w = (*value.max(&0) as f64 / max as f64 * plot as f64).round() as u32;
            // A non-zero count stays visible however small.
            let w = if *value > 0 { w.max(2) } else { 0 };
            Bar {
                label: label.clone(),
                value: *value,
                y,
                width: w,
                text_y: y + BAR_H - 5,
                value_x: LABEL_W + w + 6,
            }
        })
        .collect::<Vec<_>>();
    let n = items.len() as u32;
    BarChart {
        width,
        height: (n * (BAR_H + BAR_GAP)).max(BAR_H),
        plot_x: LABEL_W,
        bars,
    }
}

/// The colour class of a cluster state ([`crate::domain::vocab`] words): one map for the
/// trend's lines, bars and legend and the fleet card's state table, so a colour means the
/// same state everywhere (Running green, Deleting red, …). Colours live in the stylesheet.
pub fn state_class(state: &str) -> &'static str {
    match state.to_ascii_lowercase().as_str() {
        "running" => "c-running",
        "provisioning" | "importing" => "c-provisioning",
        "pending" => "c-pending",
        "deleting" => "c-deleting",
        "deleted" => "c-deleted",
        crate::domain::vocab::UNKNOWN => "c-unknown",
        _ => "c-other",
    }
}

/// One line of a trend.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: String,
    /// CSS class of the series' colour ([`state_class`]).
    pub class: String,
    /// SVG `points`: `x,y x,y ...`, numbers only.
    pub points: String,
    pub last: i64,
    /// Where the last value sits (a dot: a single day draws no line).
    pub last_x: u32,
    pub last_y: u32,
}

/// A label on an axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub pos: u32,
    pub text: String,
}

/// One bar of a short trend: one series on one day, its value written above it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendBar {
    pub name: String,
    pub class: String,
    pub value: i64,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// Centre of the bar, for its value text.
    pub text_x: u32,
}

/// A line chart over days: one line per series, y from 0 to the largest value. Fewer than
/// [`SHORT_DAYS`] days are drawn as bars instead (lines of one to three points are dots that
/// hide each other), with a note when there is a single day.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendChart {
    pub width: u32,
    pub height: u32,
    pub left: u32,
    pub bottom: u32,
    /// One per series, also when bars are drawn (the legend reads them).
    pub lines: Vec<Line>,
    /// Non-empty for a short trend: draw these instead of the lines.
    pub bars: Vec<TrendBar>,
    /// Said under a short trend.
    pub note: Option<String>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
}

/// From this many days on, a trend is drawn as lines.
pub const SHORT_DAYS: usize = 4;

const LEFT: u32 = 40;
const TOP: u32 = 10;
const BOTTOM_PAD: u32 = 22;

/// `days` oldest first; `series` names with one value per day each.
pub fn trend(
    days: &[String],
    series: &[(String, Vec<i64>)],
    width: u32,
    height: u32,
) -> TrendChart {
    let bottom = height.saturating_sub(BOTTOM_PAD);
    let plot_w = width.saturating_sub(LEFT + 10).max(1) as f64;
    let plot_h = bottom.saturating_sub(TOP).max(1) as f64;
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let steps = days.len().saturating_sub(1).max(1) as f64;
    let x = |i: usize| LEFT as f64 + i as f64 / steps * plot_w;
    let y = |v: i64| bottom as f64 - v.max(0) as f64 / max as f64 * plot_h;
    let lines = series
        .iter()
        .map(|(name, values)| Line {
            name: name.clone(),
            class: state_class(name).to_string(),
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
                .collect::<Vec<_>>()
                .join(" "),
            last: values.last().copied().unwrap_or(0),
            last_x: x(values.len().saturating_sub(1)).round() as u32,
            last_y: y(values.last().copied().unwrap_or(0)).round() as u32,
        })
        .collect();
    // First, middle and last day: enough to read the time span on a laptop screen.
    let mut picks = vec![0, days.len() / 2, days.len().saturating_sub(1)];
    picks.dedup();
    let x_ticks = picks
        .into_iter()
        .filter_map(|i| {
            days.get(i).map(|d| Tick {
                pos: x(i).round() as u32,
                text: d.clone(),
            })
        })
        .collect();
    let y_ticks = [0, max / 2, max]
        .into_iter()
        .map(|v| Tick {
            pos: y(v).round() as u32,
            text: v.to_string(),
        })
        .collect();
    let short = !days.is_empty() && days.len() < SHORT_DAYS;
    let (x_ticks, bars) = if short {
        let slot = plot_w / days.len() as f64;
        let ticks = days
            .iter()
            .enumerate()
            .map(|(i, d)| Tick {
                pos: (LEFT as f64 + (i as f64 + 0.5) * slot).round() as u32,
                text: d.clone(),
            })
            .collect();
        (ticks, day_bars(series, slot, bottom, &y))
    } else {
        (x_ticks, Vec::new())
    };
    let note = match days.len() {
        1 => Some(
            "Not enough history yet: one day so far; lines are drawn from the fourth day.".into(),
        ),
        n if short => Some(format!("{n} days of history so far.")),
        _ => None,
    };
    TrendChart {
        width,
        height,
        left: LEFT,
        bottom,
        lines,
        bars,
        note,
        x_ticks,
        y_ticks,
    }
}

/// Bars side by side per day: each day a slot `slot` wide, each series a bar in it.
fn day_bars(
    series: &[(String, Vec<i64>)],
    slot: f64,
    bottom: u32,
    y: &impl Fn(i64) -> f64,
) -> Vec<TrendBar> {
    let n = series.len().max(1) as f64;
    // A quarter of the slot is space between days; bars are at most 40 wide.
    let w = (slot * 0.75 / n).clamp(2.0, 40.0);
    let mut out = Vec::new();
    for (k, (name, values)) in series.iter().enumerate() {
        for (i, v) in values.iter().enumerate() {
            let centre = LEFT as f64 + (i as f64 + 0.5) * slot;
            let x = centre - w * n / 2.0 + w * k as f64;
            let top = y(*v).round() as u32;
            out.push(TrendBar {
                name: name.clone(),
                class: state_class(name).to_string(),
                value: *v,
                x: x.round() as u32,
                y: top,
                // One pixel apart, whatever the rounding of neighbours.
                width: (w - 1.0).floor().max(1.0) as u32,
                height: bottom.saturating_sub(top),
                text_x: (x + w / 2.0).round() as u32,
            });
        }
    }
    out
}

/// One version's share of a profile's clusters, as a piece of a stacked bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub x: u32,
    pub width: u32,
    pub latest: bool,
    pub label: String,
    pub clusters: i64,
}

/// A stacked bar of `width` split by cluster count (versions without clusters take no room).
pub fn spread(versions: &[(String, i64, bool)], width: u32) -> Vec<Segment> {
    let total: i64 = versions.iter().map(|(_, n, _)| (*n).max(0)).sum();
    if total == 0 {
        return Vec::new();
    }
    let mut x = 0u32;
    let mut seen = 0i64;
    let mut out = Vec::new();
    for (label, n, latest) in versions.iter().filter(|(_, n, _)| *n > 0) {
        seen += n;
        // Cumulative rounding: the pieces always add up to exactly `width`.
        let end = (seen as f64 / total as f64 * width as f64).round() as u32;
        out.push(Segment {
            x,
            width: end - x,
            latest: *latest,
            label: label.clone(),
            clusters: *n,
        });
        x = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_pieces_add_up_to_the_width() {
        let s = spread(
            &[
                ("1.0.0".into(), 1, false),
                ("1.1.0".into(), 0, false),
                ("1.2.0".into(), 2, true),
            ],
            100,
        );
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].x, s[0].width), (0, 33));
        assert_eq!((s[1].x, s[1].width), (33, 67));
        assert!(s[1].latest && !s[0].latest);
        assert!(spread(&[("1.0.0".into(), 0, true)], 100).is_empty());
    }

    #[test]
    fn the_longest_bar_fills_the_plot_and_others_scale() {
        let c = bars(
            &[("1.30.4".into(), 10), ("1.29.8".into(), 5), ("x".into(), 0)],
            400,
        );
        let plot = 400 - LABEL_W - VALUE_W;
        assert_eq!(c.bars[0].width, plot);
        assert_eq!(c.bars[1].width, plot / 2);
        assert_eq!(c.bars[2].width, 0);
        assert!(c.bars[1].y > c.bars[0].y);
        assert_eq!(c.height, 3 * (BAR_H + BAR_GAP));
    }

    #[test]
    fn a_tiny_count_stays_visible() {
        let c = bars(&[("big".into(), 100_000), ("one".into(), 1)], 400);
        assert!(c.bars[1].width >= 2);
    }

    #[test]
    fn no_items_is_an_empty_chart() {
        let c = bars(&[], 400);
        assert!(c.bars.is_empty());
        assert!(c.height > 0);
    }

    #[test]
    fn trend_points_span_the_plot_and_scale_to_the_maximum() {
        let days: Vec<String> = (1..=3).map(|d| format!("2026-12-0{d}")).collect();
        let t = trend(&days, &[("Running".into(), vec![0, 5, 10])], 250, 122);
        let pts: Vec<(f64, f64)> = t.lines[0]
            .points
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        assert_eq!(pts.len(), 3);
        assert_eq!(pts[0], (LEFT as f64, t.bottom as f64));
        assert_eq!(pts[2], (240.0, TOP as f64));
        assert_eq!(t.lines[0].last, 10);
        assert_eq!(t.x_ticks.len(), 3);
        assert_eq!(t.y_ticks.last().unwrap().text, "10");
    }

    #[test]
    fn one_colour_per_state_whatever_else_the_trend_holds() {
        assert_eq!(state_class("Running"), "c-running");
        assert_eq!(state_class("Deleting"), "c-deleting");
        assert_eq!(state_class("unknown"), "c-unknown");
        let days: Vec<String> = (1..=5).map(|d| format!("2026-12-0{d}")).collect();
        let series = |names: &[&str]| -> Vec<(String, Vec<i64>)> {
            names.iter().map(|n| (n.to_string(), vec![1; 5])).collect()
        };
        // Deleting sorts first; it must not take Running's colour.
        let t = trend(&days, &series(&["Deleting", "Running"]), 250, 120);
        assert_eq!(t.lines[0].class, "c-deleting");
        assert_eq!(t.lines[1].class, "c-running");
        let t = trend(&days, &series(&["Running"]), 250, 120);
        assert_eq!(t.lines[0].class, "c-running");
        assert!(t.bars.is_empty() && t.note.is_none());
    }

    #[test]
    fn a_short_trend_is_bars_with_their_values() {
        let days: Vec<String> = (1..=2).map(|d| format!("2026-12-0{d}")).collect();
        let t = trend(
            &days,
            &[
                ("Pending".into(), vec![1, 0]),
                ("Running".into(), vec![3, 4]),
            ],
            250,
            120,
        );
        assert_eq!(t.bars.len(), 4);
        let running: Vec<&TrendBar> = t.bars.iter().filter(|b| b.name == "Running").collect();
        assert_eq!(running[1].value, 4);
        assert_eq!(running[1].y, TOP, "the largest value reaches the top");
        assert_eq!(running[1].class, "c-running");
        // Series by series: [Pending day 1, Pending day 2, Running day 1, Running day 2].
        // Bars of one day do not overlap, and the days are apart.
        let b = &t.bars;
        assert!(b[0].x + b[0].width <= b[2].x, "{b:?}");
        assert!(b[2].x + b[2].width < b[1].x, "{b:?}");
        assert_eq!(t.x_ticks.len(), 2);
        assert_eq!(t.note.as_deref(), Some("2 days of history so far."));
    }

    #[test]
    fn a_single_day_trend_is_drawn_without_dividing_by_zero() {
        let t = trend(
            &["2026-12-02".into()],
            &[("Running".into(), vec![4])],
            250,
            120,
        );
        assert_eq!(
            t.lines[0].points,
            format!("{:.1},{:.1}", LEFT as f64, TOP as f64)
        );
        assert_eq!(t.x_ticks.len(), 1);
        assert_eq!(t.bars.len(), 1);
        assert!(t.note.unwrap().starts_with("Not enough history yet"));
    }
}
