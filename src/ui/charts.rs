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

/// One line of a trend.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: String,
    /// CSS class (`s0`, `s1`, ...): colours live in the stylesheet.
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

/// A line chart over days: one line per series, y from 0 to the largest value.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendChart {
    pub width: u32,
    pub height: u32,
    pub left: u32,
    pub bottom: u32,
    pub lines: Vec<Line>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
}

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
        .enumerate()
        .map(|(n, (name, values))| Line {
            name: name.clone(),
            class: format!("s{}", n % 8),
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
    TrendChart {
        width,
        height,
        left: LEFT,
        bottom,
        lines,
        x_ticks,
        y_ticks,
    }
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
    }
}
