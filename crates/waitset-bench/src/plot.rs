//! SVG charts of the workloads (plotters, SVG backend only): cost against the parameter for
//! a scaling workload, bars for the others.

use std::path::Path;

use plotters::prelude::*;

use crate::report::Workload;
use crate::Error;

/// Line colours, one per engine in order.
const COLORS: [RGBColor; 8] = [
    RGBColor(0xd6, 0x27, 0x28), // waitset first: red
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
];

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Plot(e.to_string())
}

/// Draw `wl` (median cost against the parameter, log-log, a line per engine) to `path`.
pub(crate) fn chart(wl: &Workload, path: &Path) -> Result<(), Error> {
    let params = wl.params();
    let (xmin, xmax) = params
        .iter()
        .fold((u64::MAX, 0), |(lo, hi), &n| (lo.min(n), hi.max(n)));
    if params.is_empty() {
        return Err(Error::Plot(format!("workload {} has no entries", wl.id)));
    }
    let (xmin, xmax) = (xmin.max(1) as f64 / 1.5, (xmax.max(1) as f64) * 1.5);
    let medians = || {
        wl.entries
            .iter()
            .map(|e| e.median)
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    // Log y as well: the O(N) poll backend is orders of magnitude above the epoll engines.
    let ymax = medians().fold(1.0, f64::max) * 1.3;
    let ymin = medians().fold(f64::INFINITY, f64::min).min(ymax) / 1.3;

    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("[{}] {}", wl.id, wl.title),
            ("sans-serif", 20).into_font(),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (xmin..xmax)
                .log_scale()
                .with_key_points(params.iter().map(|&n| n as f64).collect()),
            (ymin..ymax).log_scale().with_key_points(ticks(ymin, ymax)),
        )
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .x_desc(format!("{} (log scale)", wl.param))
        .y_desc(format!("median {} (log scale)", wl.unit))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(plot_err)?;

    for (i, engine) in wl.engines().into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> = wl
            .entries
            .iter()
            .filter(|e| e.engine == engine && e.median.is_finite())
            .map(|e| (e.n as f64, e.median))
            .collect();
        let width = if engine == wl.reference { 3 } else { 2 };
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(width)))
            .map_err(plot_err)?
            .label(engine)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
            });
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))
            .map_err(plot_err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

/// Draw `wl` as horizontal bars, one per engine and parameter value (the median), the figure
/// written beside each: the chart of a workload that does not scale a parameter.
pub(crate) fn bars(wl: &Workload, path: &Path) -> Result<(), Error> {
    let params = wl.params();
    let engines = wl.engines();
    let mut rows: Vec<(String, f64, RGBColor, bool)> = Vec::new();
    for &n in &params {
        for e in wl
            .entries
            .iter()
            .filter(|e| e.n == n && e.median.is_finite())
        {
            let i = engines.iter().position(|x| *x == e.engine).unwrap_or(0);
            let label = if params.len() > 1 {
                format!("{} ({} {n})", e.engine, wl.param)
            } else {
                e.engine.clone()
            };
            rows.push((
                label,
                e.median,
                COLORS[i % COLORS.len()],
                e.engine == wl.reference,
            ));
        }
    }
    if rows.is_empty() {
        return Err(Error::Plot(format!("workload {} has no entries", wl.id)));
    }
    // Room to the right of the longest bar for its label.
    let xmax = rows.iter().map(|r| r.1).fold(f64::MIN_POSITIVE, f64::max) * 1.7;
    let k = rows.len();
    let root = SVGBackend::new(path, (900, 110 + 34 * k as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("[{}] {}", wl.id, wl.title),
            ("sans-serif", 20).into_font(),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(8)
        .build_cartesian_2d(0f64..xmax, 0f64..k as f64)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .light_line_style(WHITE.mix(0.0))
        .x_desc(format!("median {}", wl.unit))
        .x_label_formatter(&|&x| {
            if x == 0.0 {
                "0".into()
            } else {
                crate::report::fmt_num(x)
            }
        })
        .draw()
        .map_err(plot_err)?;
    for (i, (label, v, color, reference)) in rows.iter().enumerate() {
        // The first row on top.
        let y0 = (k - 1 - i) as f64 + 0.15;
        let y1 = y0 + 0.7;
        let fill = if *reference {
            color.filled()
        } else {
            color.mix(0.6).filled()
        };
        chart
            .draw_series(std::iter::once(Rectangle::new([(0.0, y0), (*v, y1)], fill)))
            .map_err(plot_err)?;
        let text = format!(
            "{label}: {}{}",
            crate::report::fmt_num(*v),
            if *reference { " (reference)" } else { "" }
        );
        chart
            .draw_series(std::iter::once(Text::new(
                text,
                (*v + xmax * 0.01, y1 - 0.1),
                ("sans-serif", 14).into_font(),
            )))
            .map_err(plot_err)?;
    }
    root.present().map_err(plot_err)?;
    Ok(())
}

/// Ticks at 1, 2 and 5 times each power of ten inside `lo..hi`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut decade = 10f64.powf(lo.max(1e-9).log10().floor());
    while decade <= hi {
        for m in [1.0, 2.0, 5.0] {
            let v = decade * m;
            if v >= lo && v <= hi {
                out.push(v);
            }
        }
        decade *= 10.0;
    }
    out
}
